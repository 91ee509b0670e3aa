import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GlanceTestSupport
import Testing

/// `glance bench --suite`, `glance report` and `glance advise` end to end on tiny sizes.
@Suite struct SuiteCommandTests {
    static let tiny = ["--heads", "2", "--head-dim", "4", "--repeat", "1", "--size", "32", "--seeds", "1"]

    /// The JSON object of the only results file in `folder`.
    func resultsObject(_ folder: URL) throws -> [String: Any] {
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "json" }
        try #require(files.count == 1, "\(files)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: files[0])) as? [String: Any])
    }

    @Test("a tiny suite measures each workload the mechanism supports, records the unsupported ones, and feeds report and advise")
    func suiteReportAdvise() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let results = workspace.folder.appendingPathComponent("results")
        let suite = try glance(["bench", "--suite", "--mechanisms", "full,linformer", "--lengths", "16...32", "--fidelity-length", "32",
                                "--output", results.path] + Self.tiny, in: workspace.folder, timeout: 120)
        try #require(suite.status == 0, "\(suite)")
        let object = try resultsObject(results)
        let measurements = try #require(object["measurements"] as? [[String: Any]])
        // full: 4 workloads × 2 lengths; linformer: bidirectional only, 2 × 2.
        #expect(measurements.count == 12 && measurements.allSatisfy { $0["failure"] == nil && $0["ms"] is Double }, "\(measurements)")
        let stops = try #require(object["stops"] as? [[String: Any]])
        #expect(stops.count == 2 && stops.allSatisfy { $0["mechanism"] as? String == "linformer" && $0["kind"] as? String == "unsupported" })
        let fidelity = try #require(object["fidelity"] as? [[String: Any]])
        #expect(fidelity.contains { $0["mechanism"] as? String == "linformer" && $0["default"] as? Bool == true })
        let machine = try #require(object["machine"] as? [String: Any])
        #expect(machine["gemm_gflops"] is Double && machine["cpu"] is String && object["finished"] is String)

        let report = try glance(["report", "--results", results.path, "--output", "report"], in: workspace.folder)
        try #require(report.status == 0, "\(report)")
        let svg = try String(contentsOf: workspace.folder.appendingPathComponent("report/time-bidirectional-forward.svg"), encoding: .utf8)
        #expect(XMLParser(data: Data(svg.utf8)).parse())

        let advice = try glance(["advise", "--length", "64", "--causal", "--results", results.path], in: workspace.folder)
        try #require(advice.status == 0, "\(advice)")
        #expect(advice.standardOutput.contains("1. full") && advice.standardOutput.contains("extrapolated beyond 32"), "\(advice)")
        #expect(advice.standardOutput.contains("linformer: the linformer attention mechanism does not support causal"), "\(advice)")
    }

    @Test("a suite killed mid-run leaves a valid results file that report reads")
    func interrupted() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let results = workspace.folder.appendingPathComponent("results")
        let process = Process()
        process.executableURL = try GlanceBinary.url()
        process.arguments = ["bench", "--suite", "--lengths", "16...4096", "--fidelity-length", "0", "--output", results.path, "--threads", "1"] + Self.tiny
        process.currentDirectoryURL = workspace.folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var measured = 0
        while Date() < deadline && process.isRunning {
            let files = (try? FileManager.default.contentsOfDirectory(at: results, includingPropertiesForKeys: nil)) ?? []
            let object = files.first { $0.pathExtension == "json" }.flatMap { try? JSONSerialization.jsonObject(with: Data(contentsOf: $0)) as? [String: Any] }
            measured = (object?["measurements"] as? [Any])?.count ?? 0
            if measured >= 3 { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(measured >= 3, "the suite wrote no measurements within 60 s")
        let object = try resultsObject(results)
        #expect(object["finished"] == nil && (object["measurements"] as? [Any])?.isEmpty == false)
        let report = try glance(["report", "--results", results.path, "--output", "report"], in: workspace.folder)
        #expect(report.status == 0 && report.output.contains("index.html"), "\(report)")
    }

    @Test("a malformed results file is an error naming the file")
    func malformedResults() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let file = workspace.folder.appendingPathComponent("broken.json")
        try Data("{\"format\": \"glance-bench-suite-1\", \"machine\": 3".utf8).write(to: file)
        for command in [["advise", "--length", "4096"], ["report"]] {
            let result = try glance(command + ["--results", file.path], in: workspace.folder)
            #expect(result.status != 0 && result.output.contains(file.path) && result.output.contains("not valid JSON"), "\(result)")
        }
    }

    @Test("bad suite flags are errors naming the flag", arguments: [
        (["--lengths", "64...16"], "--lengths"), (["--memory-limit", "lots"], "--memory-limit"), (["--mechanisms", "ful"], "--mechanisms"),
        (["--reference", "/nonexistent/python"], "--reference"), (["--time-limit", "0"], "--time-limit"),
    ])
    func badFlags(_ flags: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--suite"] + flags, in: workspace.folder)
        #expect(result.status != 0 && result.output.contains(named), "\(result)")
    }
}
