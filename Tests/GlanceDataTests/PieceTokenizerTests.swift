import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct PieceTokenizerTests {
    static var processor: URL { ReferenceFixtures.folder.appendingPathComponent("parakeet_ctc_processor") }

    @Test("CTC ids decode to ParakeetProcessor.batch_decode's text (transformers 5.24.0)")
    func batchDecodeParity() throws {
        let tokenizer = try PieceTokenizer(folder: Self.processor)
        #expect(tokenizer.count == 11 && tokenizer.padID == 10 && tokenizer.pieces[1] == "▁the")
        let cases = try ReferenceFixtures.record("parakeet_ctc_transcribe")["decode_cases"] as! [[String: Any]]
        #expect(cases.count == 4)
        for entry in cases {
            let ids = entry["ids"] as! [Int], text = entry["text"] as! String
            #expect(tokenizer.decode(ids) == text, "ids \(ids)")
        }
    }

    @Test("a Sequence of Replace, Fuse and Strip decodes as tokenizers does; Metaspace 'never' keeps the first space")
    func decoderChain() {
        let chain = PieceTokenizer(pieces: ["▁Hello", "▁▁wor", "ld", "."], padID: nil,
                                   decoder: [.replace(pattern: "▁", content: " "), .fuse, .strip(content: " ", start: 1, stop: 0)])
        #expect(chain.decode([0, 1, 2, 3]) == "Hello  world.")  // tokenizers 0.22 decoders.Sequence
        let never = PieceTokenizer(pieces: ["▁Hello", "▁wor", "ld"], padID: nil, decoder: [.metaspace(replacement: "▁", dropInFirstPiece: false)])
        #expect(never.decode([0, 1, 2]) == " Hello world")
        let cleaned = PieceTokenizer(pieces: ["▁it", "▁'s", "▁."], padID: nil, decoder: [.metaspace(replacement: "▁", dropInFirstPiece: true)],
                                     cleansSpaces: true)
        #expect(cleaned.decode([0, 1, 2]) == "it's.")
        #expect(cleaned.decode([0, 0, 2], mergingRepeats: false) == "it it.")
    }

    /// A folder holding `tokenizer` as tokenizer.json and, when given, `configuration` as tokenizer_config.json.
    func folder(tokenizer: String, configuration: String? = nil) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(tokenizer.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
        if let configuration { try Data(configuration.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json")) }
        return folder
    }

    func expectError(_ field: String, file: String = "tokenizer.json", tokenizer: String, configuration: String? = nil) throws {
        let folder = try folder(tokenizer: tokenizer, configuration: configuration)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try PieceTokenizer(folder: folder)
        } throws: { error in
            guard let error = error as? PieceTokenizerError else { return false }
            return error.field == field && error.path.hasSuffix("/" + file)
        }
    }

    @Test("bad tokenizer files are errors naming the file and the field")
    func badInput() throws {
        let bpe = #"{"model": {"type": "BPE", "vocab": {"a": 0, "<pad>": 1}}, "decoder": {"type": "Metaspace"}}"#
        try expectError("(file)", tokenizer: "not json")
        try expectError("model", tokenizer: #"{"decoder": null}"#)
        try expectError("model.type", tokenizer: #"{"model": {"type": "Mystery", "vocab": []}}"#)
        try expectError("model.vocab", tokenizer: #"{"model": {"type": "Unigram", "vocab": {"a": 0}}}"#)
        try expectError("model.vocab[\"a\"]", tokenizer: #"{"model": {"type": "BPE", "vocab": {"a": -1}}}"#)
        try expectError("model.vocab[\"a\"]", tokenizer: #"{"model": {"type": "BPE", "vocab": {"a": 100000000000000}}}"#)
        try expectError("added_tokens[0]", tokenizer: #"{"model": {"type": "BPE", "vocab": {}}, "added_tokens": [{"id": "x"}]}"#)
        try expectError("decoder.decoders[1].type", tokenizer: #"{"model": {"type": "BPE", "vocab": {}}, "decoder": {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "ByteLevel"}]}}"#)
        try expectError("pad_token", file: "tokenizer_config.json", tokenizer: bpe, configuration: #"{"pad_token": "<blank>"}"#)
        try expectError("(file)", file: "tokenizer.json", tokenizer: bpe + "x")
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("glance-no-tokenizer-\(UUID().uuidString)")
        #expect(throws: PieceTokenizerError.self) { _ = try PieceTokenizer(folder: missing) }
        let good = try folder(tokenizer: bpe, configuration: #"{"pad_token": {"content": "<pad>"}, "clean_up_tokenization_spaces": true}"#)
        defer { try? FileManager.default.removeItem(at: good) }
        let tokenizer = try PieceTokenizer(folder: good)
        #expect(tokenizer.padID == 1 && !tokenizer.cleansSpaces)  // transformers skips the clean-up for BPE
    }
}
