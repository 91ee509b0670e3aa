import Foundation
import GlanceTestSupport
import Testing

@Suite struct TranscribeCommandTests {
    static func fixture(_ name: String) -> String { ReferenceFixtures.folder.appendingPathComponent(name).path }

    /// The JSON lines of `glance transcribe --json` on `files` with the fixture model folder.
    func transcribeJSON(_ files: [String], model: URL, in workspace: Workspace, extra: [String] = []) throws -> [[String: Any]] {
        let result = try glance(["transcribe", "--model", model.path, "--json", "--threads", "1"] + extra + files, in: workspace.folder)
        #expect(result.status == 0, "\(result)")
        return try result.standardOutput.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\(result)")
        }
    }

    @Test("transcribe prints transformers' ids and text for a fixture recording, and a batch of two as each alone")
    func transcribesLikeTransformers() throws {
        let workspace = try Workspace(), model = try ReferenceFixtures.parakeetFolder()
        defer { workspace.remove(); try? FileManager.default.removeItem(at: model) }
        let record = try ReferenceFixtures.record("parakeet_ctc_transcribe")
        let first = Self.fixture("speech_cards_002.wav"), second = Self.fixture("speech_cards_003_float.wav")
        let both = try transcribeJSON([first, second], model: model, in: workspace, extra: ["--batch-size", "2"])
        try #require(both.count == 2)
        #expect(both[0]["transcript"] as? String == record["text"] as? String)
        var expectedIDs: [Int] = []
        for id in record["ids"] as! [Int] where id != 10 && id != expectedIDs.last { expectedIDs.append(id) }
        #expect(both[0]["ids"] as? [Int] == expectedIDs)  // the reference's ids have no blank between repeats
        #expect(both[0]["file"] as? String == first && abs((both[0]["audio_seconds"] as? Double ?? 0) - 1.96025) < 1e-6)
        #expect((both[0]["real_time_factor"] as? Double ?? 0) > 0 && (both[0]["audio_seconds_per_cpu_second"] as? Double ?? 0) > 0)
        for (index, file) in [first, second].enumerated() {
            let alone = try transcribeJSON([file], model: model, in: workspace)
            #expect(alone.first?["transcript"] as? String == both[index]["transcript"] as? String)
            #expect(alone.first?["ids"] as? [Int] == both[index]["ids"] as? [Int])
        }
        let text = try glance(["transcribe", "--model", model.path, "--beam", "2", first], in: workspace.folder)
        #expect(text.status == 0 && text.standardOutput.hasPrefix(first + "\t") && text.standardOutput.contains("× real time"), "\(text)")
    }

    func expectFailure(_ arguments: [String], in workspace: Workspace, mentioning needles: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try glance(["transcribe"] + arguments, in: workspace.folder)
        #expect(result.status == 1 || result.status == 64, "\(result)", sourceLocation: sourceLocation)
        #expect(!result.output.contains("Fatal error"), "\(result)", sourceLocation: sourceLocation)
        for needle in needles { #expect(result.output.contains(needle), "message lacks '\(needle)':\n\(result)", sourceLocation: sourceLocation) }
    }

    @Test("a missing folder or file, a file that is not a WAV, empty or too short audio and bad flags are errors naming them")
    func badInput() throws {
        let workspace = try Workspace(), model = try ReferenceFixtures.parakeetFolder()
        defer { workspace.remove(); try? FileManager.default.removeItem(at: model) }
        let good = Self.fixture("speech_cards_002.wav")
        let text = workspace.folder.appendingPathComponent("notes.wav")
        try Data("hello, not audio".utf8).write(to: text)
        let empty = workspace.folder.appendingPathComponent("empty.wav"), short = workspace.folder.appendingPathComponent("short.wav")
        var header = Data("RIFF".utf8) + withUnsafeBytes(of: UInt32(36).littleEndian) { Data($0) } + Data("WAVEfmt ".utf8)
        for value in [UInt32(16)] { header += withUnsafeBytes(of: value.littleEndian) { Data($0) } }
        for value in [UInt16(1), UInt16(1)] { header += withUnsafeBytes(of: value.littleEndian) { Data($0) } }
        for value in [UInt32(16000), UInt32(32000)] { header += withUnsafeBytes(of: value.littleEndian) { Data($0) } }
        for value in [UInt16(2), UInt16(16)] { header += withUnsafeBytes(of: value.littleEndian) { Data($0) } }
        try (header + Data("data".utf8) + Data(count: 4)).write(to: empty)
        try (header + Data("data".utf8) + withUnsafeBytes(of: UInt32(200).littleEndian) { Data($0) } + Data(count: 200)).write(to: short)
        let missingFolder = workspace.folder.appendingPathComponent("no-model").path
        try expectFailure(["--model", missingFolder, good], in: workspace, mentioning: [missingFolder, "not a folder"])
        try expectFailure(["--model", model.path, "missing.wav"], in: workspace, mentioning: ["missing.wav"])
        try expectFailure(["--model", model.path, good, text.path], in: workspace, mentioning: [text.path, "RIFF"])
        try expectFailure(["--model", model.path, empty.path], in: workspace, mentioning: [empty.path])
        try expectFailure(["--model", model.path, short.path], in: workspace, mentioning: [short.path, "too short"])
        try expectFailure(["--model", model.path, "--beam", "0", good], in: workspace, mentioning: ["--beam"])
        try expectFailure(["--model", model.path], in: workspace, mentioning: ["WAV"])
        try FileManager.default.removeItem(at: model.appendingPathComponent("tokenizer.json"))
        try expectFailure(["--model", model.path, good], in: workspace, mentioning: [model.appendingPathComponent("tokenizer.json").path])
    }
}
