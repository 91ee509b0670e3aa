import Foundation
import GlanceTestSupport
import GlanceTraining
import Testing

@Suite struct TrainingMetricsLogTests {
    /// The (event, step) of every line of the run's metrics file.
    func entries(_ folder: URL) -> [(event: String, step: Int, object: [String: Any])] {
        TrainingMetricsLog.lines(in: folder.appendingPathComponent(TrainingMetricsLog.fileName)).map {
            ($0.object["event"] as? String ?? "?", $0.object["step"] as? Int ?? -1, $0.object)
        }
    }

    @Test("a run writes a progress line per report and a validation line per validation, with loss, tokens/s and wall seconds")
    func lines() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var settings = tinyOptimization(steps: 6)
        settings.evalEvery = 3
        try Trainer(task: CountingTask(), settings: settings, output: folder).run { _ in }
        let lines = entries(folder)
        #expect(lines.filter { $0.event == "progress" }.map(\.step) == [1, 2, 3, 4, 5, 6])
        #expect(lines.filter { $0.event == "validation" }.map(\.step) == [3, 6])
        let progress = try #require(lines.first?.object)
        #expect(progress["loss"] is Double && progress["tokens_per_s"] is Double && progress["lr"] is Double)
        #expect(lines.last?.object["val_loss"] as? Double == 0)
        let seconds = lines.compactMap { $0.object["wall_s"] as? Double }
        #expect(seconds.count == lines.count && seconds == seconds.sorted())
    }

    @Test("resuming drops the lines written after the checkpoint (and a torn line): every step once, wall time continues")
    func resumeTruncates() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var settings = tinyOptimization(steps: 8)
        (settings.evalEvery, settings.checkpointEvery) = (2, 4)
        try Trainer(task: CountingTask(), settings: settings, output: folder).run(stopAfter: 4) { _ in }
        // What a run killed after step 5 leaves: lines past its last checkpoint (step 4) and half a line.
        let file = folder.appendingPathComponent(TrainingMetricsLog.fileName)
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((#"{"event":"progress","step":5,"loss":1,"wall_s":99}"# + "\n" + #"{"event":"progr"#).utf8))
        try handle.close()
        let before = try #require(entries(folder).first { $0.step == 4 && $0.event == "validation" }?.object["wall_s"] as? Double)

        let resumed = Trainer(task: CountingTask(), settings: settings, output: folder)
        try resumed.resume()
        try resumed.run { _ in }
        let lines = entries(folder)
        #expect(lines.filter { $0.event == "progress" }.map(\.step) == Array(1...8))
        #expect(lines.filter { $0.event == "validation" }.map(\.step) == [2, 4, 6, 8])
        let seconds = lines.compactMap { $0.object["wall_s"] as? Double }
        #expect(seconds == seconds.sorted() && seconds.last! >= before && !seconds.contains(99))
    }

    @Test("a fresh run in the folder starts the file anew")
    func freshRunTruncates() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        try Trainer(task: CountingTask(), settings: tinyOptimization(steps: 3), output: folder).run { _ in }
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(Trainer<CountingTask>.checkpointName))
        try Trainer(task: CountingTask(), settings: tinyOptimization(steps: 2), output: folder).run { _ in }
        #expect(entries(folder).filter { $0.event == "progress" }.map(\.step) == [1, 2])
    }
}
