import ArgumentParser
import Foundation
import GlanceReport

/// `glance report`: the HTML benchmark report with SVG charts from suite results and training metrics.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the benchmark report (HTML with inline SVG charts, and each chart as an .svg) from `glance bench --suite` results.",
        discussion: """
        Uses the newest results file in --results (or the file given). Charts: time and peak memory against length (log-log) per \
        workload, Glance solid and the PyTorch reference dashed, crossovers with exact attention marked; approximation error against \
        features or rank; validation curves against step and wall time of every metrics.jsonl under --runs.
        """)

    @Option(help: "A results file or a folder of them (the newest is used).") var results = "benchmarks/results"
    @Option(help: "Folder of the page and the charts.") var output = "docs/report"
    @Option(help: "A folder of training runs: every metrics.jsonl under it becomes a validation curve; repeatable.") var runs: [String] = []

    func run() throws {
        let loaded = try SuiteResults.loadAll(from: URL(fileURLWithPath: results))
        guard let newest = loaded.max(by: { $0.results.started < $1.results.started }) else {
            throw CommandFailure("no results file (*.json) in \(results): run `glance bench --suite` first")
        }
        let curves = try runs.flatMap { folder -> [TrainingCurve] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure("--runs: '\(folder)' is not a folder")
            }
            return try TrainingCurve.files(under: URL(fileURLWithPath: folder)).compactMap(TrainingCurve.load)
        }
        let written = try ReportPage(results: newest.results, source: newest.file.lastPathComponent, curves: curves)
            .write(to: URL(fileURLWithPath: output))
        for file in written { print(file.path) }
    }
}
