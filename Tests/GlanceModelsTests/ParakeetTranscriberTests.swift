import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTestSupport
import Testing

@Suite struct ParakeetTranscriberTests {
    static func recording() throws -> MonoAudio {
        try WAVFile.read(from: ReferenceFixtures.folder.appendingPathComponent("speech_cards_002.wav"), resamplingTo: 16000)
    }

    /// `ids` with repeats collapsed and `blank` dropped.
    static func collapsed(_ ids: [Int], blank: Int) -> [Int] {
        ids.enumerated().filter { $1 != blank && ($0 == 0 || ids[$0 - 1] != $1) }.map(\.element)
    }

    @Test("WAV → features → logits → greedy ids → text equals transformers' processor + ParakeetForCTC; logits within 1e-4")
    func endToEndParity() throws {
        let folder = try ReferenceFixtures.parakeetFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let transcriber = try ParakeetTranscriber(folder: folder)
        let reference = try ReferenceFixtures.tensors("parakeet_ctc_transcribe"), record = try ReferenceFixtures.record("parakeet_ctc_transcribe")
        let audio = try Self.recording()
        let features = try transcriber.features.features(samples: audio.samples).features
        #expect(features.shape == reference["input_features"]!.shape)
        #expect(maxAbsoluteDifference(features, reference["input_features"]!) <= 1e-4)
        let (logits, lengths) = try transcriber.logits([audio])
        #expect(logits.shape == reference["logits"]!.shape && lengths == [logits.shape[1]])
        let error = relativeError(logits, reference["logits"]!)
        #expect(error <= 1e-4, "logits: relative error \(error), max difference \(maxAbsoluteDifference(logits, reference["logits"]!))")
        let transcript = try transcriber.transcribe([audio])[0]
        #expect(transcript.ids == Self.collapsed(record["ids"] as! [Int], blank: 10))
        #expect(transcript.text == record["text"] as! String)
    }

    @Test("a padded batch transcribes each recording as it alone; beam search of width 1 equals greedy")
    func batchEqualsAlone() throws {
        let folder = try ReferenceFixtures.parakeetFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let transcriber = try ParakeetTranscriber(folder: folder)
        let first = try Self.recording()
        let second = try WAVFile.read(from: ReferenceFixtures.folder.appendingPathComponent("speech_cards_003_float.wav"), resamplingTo: 16000)
        let together = try transcriber.transcribe([first, second], beamWidth: 3)
        #expect(together == [try transcriber.transcribe([first], beamWidth: 3)[0], try transcriber.transcribe([second], beamWidth: 3)[0]])
        let greedy = try transcriber.transcribe([second])
        #expect(greedy == (try transcriber.transcribe([second], beamWidth: 1)))
    }

    func expectFolderError(_ pathSuffix: String, omitting: Set<String> = [], edit: ((URL) throws -> Void)? = nil) throws {
        let folder = try ReferenceFixtures.parakeetFolder(omitting: omitting)
        defer { try? FileManager.default.removeItem(at: folder) }
        try edit?(folder)
        #expect {
            _ = try ParakeetTranscriber(folder: folder)
        } throws: { error in
            String(describing: error).contains(folder.path + pathSuffix)
        }
    }

    @Test("a missing folder or part, or parts that do not fit the model, are errors naming the file")
    func badFolders() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("glance-no-parakeet-\(UUID().uuidString)")
        #expect(throws: ParakeetFolderError.self) { _ = try ParakeetTranscriber(folder: missing) }
        try expectFolderError("/model.safetensors", omitting: ["model.safetensors"])
        try expectFolderError(": has neither preprocessor_config.json", omitting: ["processor_config.json"])
        try expectFolderError("/tokenizer.json", omitting: ["tokenizer.json"])
        try expectFolderError("/processor_config.json") { folder in
            let url = folder.appendingPathComponent("processor_config.json")
            let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"feature_size\": 16", with: "\"feature_size\": 80")
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try expectFolderError("/tokenizer.json") { folder in
            let url = folder.appendingPathComponent("tokenizer.json")
            let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"id\": 10", with: "\"id\": 11")
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }
}
