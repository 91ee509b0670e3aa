import Foundation

/// Ranks the measured mechanisms for one workload: predicted time and memory at the length
/// from Glance's measurements (interpolated on log-log, or extrapolated and flagged beyond
/// them), and for every mechanism left out the reason.
public struct Advisor: Sendable {
    public struct Request: Sendable {
        public var length: Int
        public var workload: Workload
        /// Peak memory allowed, in bytes (nil: any).
        public var memoryLimit: Int?
        /// Largest approximation error allowed (nil: any).
        public var maximumError: Double?

        public init(length: Int, workload: Workload, memoryLimit: Int? = nil, maximumError: Double? = nil) {
            (self.length, self.workload, self.memoryLimit, self.maximumError) = (length, workload, memoryLimit, maximumError)
        }
    }

    /// A mechanism that serves the workload, with its predictions.
    public struct Choice: Sendable {
        public let mechanism: String
        public let milliseconds: Double
        public let peakResidentBytes: Double?
        /// The relative error at the timed (default) setting; nil when not measured (exact
        /// attention has 0).
        public let relativeError: Double?
        /// The prediction lies beyond the measured lengths.
        public let isExtrapolated: Bool
        /// The measured lengths the prediction comes from, and remarks (extrapolation, stops).
        public let notes: [String]
    }

    /// A mechanism left out, and why.
    public struct Exclusion: Sendable {
        public let mechanism: String
        public let reason: String
    }

    public let results: SuiteResults

    public init(results: SuiteResults) { self.results = results }

    /// The mechanism whose error is 0 by definition.
    public static let exactMechanism = "full"

    /// The serving mechanisms, fastest first, and the others with their reasons.
    public func advise(_ request: Request) -> (ranking: [Choice], excluded: [Exclusion]) {
        var ranking: [Choice] = [], excluded: [Exclusion] = []
        let n = Double(request.length)
        for mechanism in results.mechanisms {
            let stops = results.stops.filter { $0.implementation == .glance && $0.mechanism == mechanism && $0.workload == request.workload }
            if let unsupported = stops.first(where: { $0.kind == .unsupported }) {
                excluded.append(Exclusion(mechanism: mechanism, reason: unsupported.reason))
                continue
            }
            let measured = results.series(.glance, mechanism, request.workload)
            guard !measured.isEmpty else {
                let why = stops.first.map { ": \($0.reason)" } ?? ""
                excluded.append(Exclusion(mechanism: mechanism, reason: "never measured for \(request.workload)\(why)"))
                continue
            }
            let time = LogLogCurve(measured.map { (x: Double($0.length), y: $0.milliseconds!) }).value(at: n)!
            let memory = LogLogCurve(measured.compactMap { m in m.peakResidentBytes.map { (x: Double(m.length), y: Double($0)) } }).value(at: n)
            let largest = measured.last!.length
            var notes = ["measured \(groupedInteger(Double(measured.first!.length)))–\(groupedInteger(Double(largest)))"]
            if time.isExtrapolated {
                notes.append(request.length > largest ? "extrapolated beyond \(groupedInteger(Double(largest)))" : "extrapolated below the smallest measured length")
            }
            if let stop = stops.first(where: { $0.length <= request.length }) {
                if stop.kind == .memory, request.memoryLimit.map({ $0 >= results.settings.memoryLimitBytes }) ?? true {
                    excluded.append(Exclusion(mechanism: mechanism, reason: "over memory at \(groupedInteger(Double(stop.length))): \(stop.reason)"))
                    continue
                }
                notes.append("the suite stopped at \(groupedInteger(Double(stop.length))): \(stop.reason)")
            }
            if let limit = request.memoryLimit, let memory, memory.value > Double(limit) {
                excluded.append(Exclusion(mechanism: mechanism, reason: "over memory: predicted \(Self.bytes(memory.value)) > \(Self.bytes(Double(limit)))"
                                          + (memory.isExtrapolated ? " (extrapolated)" : "")))
                continue
            }
            let error = relativeError(of: mechanism, causal: request.workload.causal, length: request.length)
            if let maximum = request.maximumError {
                if let error, error > maximum {
                    excluded.append(Exclusion(mechanism: mechanism, reason: String(format: "error %.3g above the limit %.3g", error, maximum)))
                    continue
                }
                if error == nil { notes.append("approximation error not measured (not an approximation of exact attention)") }
            }
            ranking.append(Choice(mechanism: mechanism, milliseconds: time.value, peakResidentBytes: memory?.value, relativeError: error,
                                  isExtrapolated: time.isExtrapolated, notes: notes))
        }
        return (ranking.sorted { $0.milliseconds < $1.milliseconds }, excluded)
    }

    /// The mechanism's error at its default setting, measured at the length nearest `length`
    /// (on a log scale) in the same direction if possible; 0 for exact attention.
    public func relativeError(of mechanism: String, causal: Bool, length: Int) -> Double? {
        if mechanism == Self.exactMechanism { return 0 }
        let defaults = results.fidelity.filter { $0.mechanism == mechanism && $0.isDefault }
        let candidates = defaults.contains { $0.causal == causal } ? defaults.filter { $0.causal == causal } : defaults
        return candidates.min { abs(log(Double($0.length) / Double(length))) < abs(log(Double($1.length) / Double(length))) }?.relativeError
    }

    /// Bytes in binary units ("3.2 GiB").
    public static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = value, unit = 0
        while scaled >= 1024 && unit < units.count - 1 { (scaled, unit) = (scaled / 1024, unit + 1) }
        return String(format: unit == 0 ? "%.0f" : "%.1f", scaled) + " " + units[unit]
    }
}

/// Parses a memory size: a number of bytes, or with a unit KB, MB, GB, TB (powers of 1,000) or
/// KiB, MiB, GiB, TiB (powers of 1,024); "K", "M", "G", "T" alone are binary. Nil if it is none.
public func parseByteCount(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let digits = trimmed.prefix { $0.isNumber || $0 == "." }
    guard let number = Double(digits), number >= 0 else { return nil }
    let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).uppercased()
    let (kibi, mebi, gibi, tebi) = (1024.0, 1_048_576.0, 1_073_741_824.0, 1_099_511_627_776.0)
    let factors: [String: Double] = ["": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "K": kibi, "M": mebi, "G": gibi, "T": tebi,
                                     "KIB": kibi, "MIB": mebi, "GIB": gibi, "TIB": tebi]
    guard let factor = factors[unit], (number * factor) < 9e18 else { return nil }
    return Int(number * factor)
}
