import Foundation
import GlanceReport
import GlanceTestSupport
import Testing

@Suite struct ResultsFileTests {
    @Test("a results file round-trips; the newest of a folder is found")
    func roundTrip() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let file = folder.appendingPathComponent("suite-a.json")
        try syntheticResults().write(to: file)
        try syntheticResults().write(to: file)  // over an existing file
        let loaded = try SuiteResults.loadAll(from: folder)
        #expect(loaded.count == 1 && loaded[0].results.measurements.count == syntheticResults().measurements.count)
        #expect(loaded[0].results.machine.cpu == "Test CPU" && loaded[0].results.finished == nil)
    }

    @Test("a malformed or foreign results file is an error naming the file and what is wrong", arguments: [
        ("{\"format\": ", "not valid JSON"), ("{\"format\": \"glance-bench-suite-1\"}", "lacks 'machine'"), ("[1, 2]", "wrong type"),
    ])
    func malformed(_ text: String, _ reason: String) throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let file = folder.appendingPathComponent("broken.json")
        try Data(text.utf8).write(to: file)
        #expect {
            _ = try SuiteResults.loadAll(from: folder)
        } throws: { error in
            "\(error)".contains(file.path) && "\(error)".contains(reason)
        }
    }

    @Test("another format's name is refused")
    func foreignFormat() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var results = syntheticResults()
        results.format = "something-else"
        let file = folder.appendingPathComponent("other.json")
        try results.write(to: file)
        #expect(throws: SuiteResultsError.self) { try SuiteResults.load(from: file) }
    }

    @Test("the report: index.html and a well-formed SVG per chart, crossovers in the table, training curves from metrics files")
    func reportPage() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let run = folder.appendingPathComponent("runs/performer")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lines = [#"{"event":"progress","step":1,"loss":3.0,"wall_s":0.5}"#, #"{"event":"validation","step":2,"val_bpc":2.5,"val_loss":1.7,"wall_s":1.25}"#,
                     #"{"event":"validation","step":4,"val_bpc":2.25,"val_loss":1.6,"wall_s":2.5}"#]
        try Data(lines.joined(separator: "\n").utf8).write(to: run.appendingPathComponent("metrics.jsonl"))
        let curves = try TrainingCurve.files(under: folder.appendingPathComponent("runs")).compactMap(TrainingCurve.load)
        #expect(curves.count == 1 && curves[0].metric == "val_bpc" && curves[0].points.map(\.value) == [2.5, 2.25])
        let page = ReportPage(results: syntheticResults(), source: "suite-a.json", curves: curves)
        let written = try page.write(to: folder.appendingPathComponent("report"))
        let names = Set(written.map(\.lastPathComponent))
        #expect(names.isSuperset(of: ["index.html", ReportPage.mainChart, "memory-causal-forward-backward.svg", "fidelity.svg", "training-steps.svg", "training-time.svg"]))
        for file in written where file.pathExtension == "svg" {
            #expect(isWellFormedXML(try String(contentsOf: file, encoding: .utf8)), "\(file.lastPathComponent)")
        }
        // full: n²/1e5 ms, performer n/50 ms: equal at n = 2,000.
        guard case let .at(x) = page.crossover("performer", Workload(causal: false, backward: false)) else { Issue.record("no crossover"); return }
        #expect(abs(x - 2000) < 1e-6)
        let html = try String(contentsOf: folder.appendingPathComponent("report/index.html"), encoding: .utf8)
        #expect(html.contains("≈ 2,000") && html.contains("<svg") && !html.contains("<script"))
        #expect(html.contains("farther from exact attention"), "the fidelity chart explains errors above 1")
    }
}
