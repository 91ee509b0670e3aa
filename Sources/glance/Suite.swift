import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore
import GlanceReport

extension Bench {
    /// `--suite`: measures every mechanism over the lengths (see ``SuiteOptions``), each
    /// measurement in a child process, and keeps the results file valid after each one.
    func runSuite() throws {
        let lengths = try suite.lengths(), mechanisms = try suite.mechanismNames(), pythons = try suite.referencePythons()
        let memoryLimit = try suite.memoryLimitBytes()
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let folder = URL(fileURLWithPath: suite.output)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate, .withTime])
        let file = folder.appendingPathComponent("suite-\(stamp.replacingOccurrences(of: ":", with: "")).json")
        let common = ["--batch", "\(batch)", "--heads", "\(heads)", "--head-dim", "\(headDim)", "--threads", "\(Threading.count)", "--repeat", "\(`repeat`)"]

        printError("measuring GEMM throughput (\(size)²)…")
        let gemm = SuiteChildProcess(executable: executable, arguments: ["bench", "--gemm", "--size", "\(size)", "--json"] + common, timeout: 600).run()
        guard gemm.failure == nil, let rate = gemm.lastJSONObject?["blas_gflops"] as? Double else {
            throw CommandFailure("the GEMM measurement failed: \(gemm.failure ?? "no blas_gflops in its output")")
        }
        var results = SuiteResults(machine: SuiteMachine.describe(gemmGflops: rate, gemmSize: size),
                                   settings: SuiteSettings(lengths: lengths, timeLimitSeconds: suite.timeLimit, memoryLimitBytes: memoryLimit,
                                                           repeats: `repeat`, batch: batch, heads: heads, headDimensions: headDim,
                                                           reference: pythons.isEmpty ? nil : pythons.sorted { $0.key < $1.key }
                                                               .map { $0.key.isEmpty ? $0.value : "\($0.key)=\($0.value)" }.joined(separator: ", ")),
                                   started: stamp)
        try results.write(to: file)
        printError("writing \(file.path) (rewritten after every measurement)")

        if suite.fidelityLength > 0 {
            try suiteFidelity(length: suite.fidelityLength, mechanisms: mechanisms) { measurement in
                results.fidelity.append(measurement)
                try results.write(to: file)
                printError("fidelity \(measurement.mechanism) \(measurement.setting)=\(measurement.value)\(measurement.causal ? " causal" : ""): "
                           + String(format: "%.4f", measurement.relativeError))
            }
        }

        for mechanism in mechanisms {
            let options = (try? layerOptions(mechanism)) ?? [:]
            let optionsText = String(decoding: (try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
            for workload in Workload.all {
                var series: [Implementation: [SuiteMeasurement]] = [.glance: []]
                if let reason = unsupportedReason(mechanism, workload, length: lengths[0]) {
                    results.stops.append(SuiteStop(implementation: .glance, mechanism: mechanism, workload: workload, length: lengths[0],
                                                   kind: .unsupported, reason: reason))
                    try results.write(to: file)
                    continue
                }
                let reference = SuiteReference.all[mechanism].flatMap { $0.serves(workload) ? $0 : nil }
                if reference != nil, pythons[mechanism] ?? pythons[""] != nil { series[.reference] = [] }
                for (index, n) in lengths.enumerated() {
                    let order: [Implementation] = index % 2 == 0 ? [.glance, .reference] : [.reference, .glance]
                    for implementation in order where series[implementation] != nil {
                        if let estimate = Self.estimatedPeak(series[implementation]!, at: n), estimate > Double(memoryLimit) {
                            results.stops.append(SuiteStop(implementation: implementation, mechanism: mechanism, workload: workload, length: n, kind: .memory,
                                                           reason: "estimated peak \(Advisor.bytes(estimate)) > limit \(Advisor.bytes(Double(memoryLimit)))"))
                            series[implementation] = nil
                            try results.write(to: file)
                            continue
                        }
                        let arguments = implementation == .glance
                            ? ["bench", "--mechanism", mechanism, "--length", "\(n)", "--json"] + common + (workload.causal ? ["--causal"] : [])
                                + (workload.backward ? ["--backward"] : [])
                            : reference!.arguments(folder: suite.referenceScripts, mechanism: mechanism, options: options, workload: workload, length: n,
                                                   batch: batch, heads: heads, headDimensions: headDim, threads: Threading.count, repeats: `repeat`)
                        let program = implementation == .glance ? executable : URL(fileURLWithPath: pythons[mechanism] ?? pythons[""]!)
                        let outcome = SuiteChildProcess(executable: program, arguments: arguments, timeout: Swift.max(30, 4 * suite.timeLimit)).run()
                        let measurement = Self.measurement(outcome, implementation: implementation, mechanism: mechanism, options: optionsText,
                                                           workload: workload, length: n)
                        results.measurements.append(measurement)
                        printError("\(implementation.rawValue) \(mechanism) \(workload) n=\(n): "
                                   + (measurement.failure ?? String(format: "%.2f ms, ", measurement.milliseconds!)
                                      + Advisor.bytes(Double(measurement.peakResidentBytes ?? 0))))
                        if let failure = measurement.failure {
                            results.stops.append(SuiteStop(implementation: implementation, mechanism: mechanism, workload: workload, length: n,
                                                           kind: .failure, reason: failure))
                            series[implementation] = nil
                        } else if measurement.wallSeconds > suite.timeLimit, index + 1 < lengths.count {
                            results.stops.append(SuiteStop(implementation: implementation, mechanism: mechanism, workload: workload, length: lengths[index + 1],
                                                           kind: .time, reason: "the measurement at \(n) took "
                                                               + String(format: "%.0f s > limit %.0f s", measurement.wallSeconds, suite.timeLimit)))
                            series[implementation] = nil
                        } else {
                            series[implementation]!.append(measurement)
                        }
                        try results.write(to: file)
                    }
                    if series.isEmpty { break }
                }
            }
        }
        results.finished = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate, .withTime])
        try results.write(to: file)
        print(file.path)
    }

    /// The mechanism's default options as Glance reports them.
    func layerOptions(_ mechanism: String) throws -> [String: Any] {
        try JSONDecoder().decode(AttentionConfiguration.self, from: JSONSerialization.data(withJSONObject: ["type": mechanism])).optionsObject
    }

    /// Why the mechanism with default options cannot serve `workload`; nil if it can. A
    /// mechanism that is always causal does not serve bidirectional workloads.
    func unsupportedReason(_ mechanism: String, _ workload: Workload, length n: Int) -> String? {
        do {
            let built = try layer(mechanism, options: [:], length: n, required: workload.causal ? .causal : .bidirectional)
            return !workload.causal && built.isAlwaysCausal ? "always causal: not a bidirectional mechanism" : nil
        } catch let error as AttentionCapabilityError {
            return "\(error)"
        } catch {
            return nil  // options that do not fit this length: the measurement records the failure
        }
    }

    /// The next length's peak memory from the series' last two measurements, extended on
    /// log-log; nil with fewer than two.
    static func estimatedPeak(_ series: [SuiteMeasurement], at n: Int) -> Double? {
        let points = series.suffix(2).compactMap { m in m.peakResidentBytes.map { (x: Double(m.length), y: Double($0)) } }
        guard points.count == 2 else { return nil }
        return LogLogCurve(points).value(at: Double(n))?.value
    }

    /// A measurement from a child's outcome: Glance's `bench --json` line or a reference
    /// script's (forward_ms or backward_ms, peak_rss_bytes, import_rss_bytes).
    static func measurement(_ outcome: SuiteChildProcess.Outcome, implementation: Implementation, mechanism: String, options: String,
                            workload: Workload, length: Int) -> SuiteMeasurement {
        let object = outcome.lastJSONObject
        let time = object?[workload.backward ? "backward_ms" : "forward_ms"] as? Double
        let failure = outcome.failure ?? (object == nil ? "printed no JSON line" : time == nil ? "its JSON line has no time" : nil)
        return SuiteMeasurement(implementation: implementation, mechanism: mechanism, options: options, workload: workload, length: length,
                                milliseconds: failure == nil ? time : nil, peakResidentBytes: object?["peak_rss_bytes"] as? Int,
                                baselineResidentBytes: object?["import_rss_bytes"] as? Int, wallSeconds: (outcome.wallSeconds * 1000).rounded() / 1000,
                                failure: failure)
    }
}
