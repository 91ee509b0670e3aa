import Foundation

func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }

func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

/// Standard error of the mean (sample standard deviation / √count); null for one value.
func standardError(_ values: [Double]) -> Any {
    guard values.count > 1 else { return NSNull() }
    let average = mean(values)
    let variance = values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
    return (variance / Double(values.count)).squareRoot()
}

/// Wall times of `repeats` runs of `body`, in milliseconds, sorted, after one warm-up run.
func sortedMilliseconds(repeats: Int, _ body: () -> Void) -> [Double] {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()
}

/// Median wall time of `repeats` runs of `body`, in milliseconds, after one warm-up run.
func medianMilliseconds(repeats: Int, _ body: () -> Void) -> Double {
    let times = sortedMilliseconds(repeats: repeats, body)
    return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
}

/// This process's resource usage so far.
func processResourceUsage() -> rusage {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return usage
}

/// CPU seconds (user + system, all threads) this process has used so far.
func processCPUSeconds() -> Double {
    let usage = processResourceUsage()
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Peak resident set size of this process, in bytes.
func peakResidentBytes() -> Int {
    let usage = processResourceUsage()
    #if os(Linux)
    return usage.ru_maxrss * 1024
    #else
    return usage.ru_maxrss
    #endif
}
