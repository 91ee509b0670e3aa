import ArgumentParser
import Foundation
import GlanceReport

/// `glance advise`: which mechanism to use for a workload, from measured suite results.
struct Advise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank the attention mechanisms for a workload from `glance bench --suite` results, with predicted time and memory.",
        discussion: """
        Predictions interpolate Glance's measurements on log-log axes between the measured lengths and extend the last segment \
        beyond them (flagged "extrapolated"). Every mechanism left out is listed with the reason. Errors are the relative error \
        against exact attention at the mechanism's default setting (the one timed), from the suite's fidelity study.
        """)

    @Option(parsing: .unconditional, help: "Sequence length.") var length: Int
    @Flag(help: "Causal (autoregressive) attention.") var causal = false
    @Flag(help: "Training: forward + backward (default: inference, forward only).") var backward = false
    @Option(help: "Peak memory allowed (e.g. 4GB, 4GiB, 512MB).") var memory: String?
    @Option(name: .customLong("max-error"), help: "Largest relative error against exact attention allowed (e.g. 0.1).") var maxError: Double?
    @Option(help: "A results file or a folder of them (the newest is used).") var results = "benchmarks/results"
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard length >= 1 else { throw ValidationError("--length must be at least 1, got \(length)") }
        if let memory, parseByteCount(memory) ?? 0 <= 0 { throw ValidationError("--memory must be a size such as 4GB, 4GiB or 512MB, got '\(memory)'") }
        if let maxError, !(maxError >= 0) { throw ValidationError("--max-error must be at least 0, got \(maxError)") }
    }

    func run() throws {
        let loaded = try SuiteResults.loadAll(from: URL(fileURLWithPath: results))
        guard let newest = loaded.max(by: { $0.results.started < $1.results.started }) else {
            throw CommandFailure("no results file (*.json) in \(results): run `glance bench --suite` first")
        }
        let workload = Workload(causal: causal, backward: backward)
        let request = Advisor.Request(length: length, workload: workload, memoryLimit: memory.flatMap(parseByteCount), maximumError: maxError)
        let (ranking, excluded) = Advisor(results: newest.results).advise(request)
        if json {
            let object: [String: Any] = [
                "results": newest.file.path, "length": length, "causal": causal, "backward": backward,
                "ranking": ranking.map { c -> [String: Any] in
                    ["mechanism": c.mechanism, "predicted_ms": (c.milliseconds * 1000).rounded() / 1000, "predicted_peak_rss_bytes": c.peakResidentBytes.map { Int($0) as Any } ?? NSNull(),
                     "relative_error": c.relativeError.map { $0 as Any } ?? NSNull(), "extrapolated": c.isExtrapolated, "notes": c.notes]
                },
                "excluded": excluded.map { ["mechanism": $0.mechanism, "reason": $0.reason] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let limits = (memory.map { ", at most \($0)" } ?? "") + (maxError.map { ", error at most \($0)" } ?? "")
        print("\(groupedInteger(Double(length))) tokens, \(workload)\(limits); from \(newest.file.path) (\(newest.results.machine.cpu))")
        if ranking.isEmpty { print("no mechanism fits") }
        for (rank, choice) in ranking.enumerated() {
            let memoryText = choice.peakResidentBytes.map { Advisor.bytes($0) } ?? "–"
            let errorText = choice.relativeError.map { String(format: "%.3g", $0) } ?? "–"
            let columns = ["\(rank + 1). " + padded(choice.mechanism, 16), padded(String(format: "%.1f ms", choice.milliseconds), 14, right: true),
                           padded(memoryText, 11, right: true), "error " + padded(errorText, 6), choice.notes.joined(separator: "; ")]
            print(columns.joined(separator: "  "))
        }
        if !excluded.isEmpty { print("excluded:") }
        for exclusion in excluded { print("    \(exclusion.mechanism): \(exclusion.reason)") }
    }

    /// `text` padded with spaces to `width` characters, on the left with `right`.
    func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: Swift.max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
