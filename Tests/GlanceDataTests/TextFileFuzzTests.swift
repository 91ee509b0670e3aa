import Foundation
import GlanceCore
import GlanceData
import GlanceTestSupport
import Testing

/// Seeded mutation fuzzing of the translation and tokenizer files: bitexts, bpe.json and
/// Hugging Face tokenizer.json (with tokenizer_config.json). Every mutated file either reads or
/// throws the reader's own error type; a trap fails the run.
@Suite struct TextFileFuzzTests {
    @Test(.timeLimit(.minutes(1))) func mutatedBitextsAndBytePairFilesReadOrThrow() throws {
        let folder = try makeTemporaryFolder("glance-bitext-fuzz")
        defer { remove(folder) }
        let source = folder.appendingPathComponent("train.en"), target = folder.appendingPathComponent("train.es")
        let bpe = folder.appendingPathComponent("bpe.json")
        let lines = ["In the beginning", "God created the heaven", "and the earth."]
        let encoding = BytePairEncoding.learn(from: lines, vocabularySize: BytePairEncoding.baseVocabularySize + 12)
        try encoding.save(to: bpe)
        let bpeSeed = try String(contentsOf: bpe, encoding: .utf8)
        var tally = FuzzTally()
        for index in 0..<3_000 {
            var random = RandomGenerator(seed: 33_000 &+ UInt64(index))
            if index % 2 == 0 {
                let english = Mutator().mutate(Array((lines.joined(separator: "\n") + "\n").utf8), &random)
                try Data(english).write(to: source)
                try Data("En el principio\r\ncreó Dios los cielos\ny la tierra.\n".utf8).write(to: target)
                tally.record("bitext \(english)", isExpected: { $0 is BitextError }) {
                    let bitext = try Bitext(source: source, target: target)
                    _ = encoding.encode(bitext.source.joined(separator: " "))
                }
            } else {
                let text = Mutator().mutate(bpeSeed, &random)
                try Data(text.utf8).write(to: bpe)
                tally.record("bpe.json \(text)", isExpected: { $0 is BytePairEncodingError }) {
                    let read = try BytePairEncoding(contentsOf: bpe)
                    let ids = read.encode("the heaven and the earth")
                    #expect(read.decode(ids) == "the heaven and the earth")
                }
            }
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 200 && tally.refused > 1_000, "\(tally)")
    }

    @Test(.timeLimit(.minutes(1))) func mutatedTokenizerFilesReadOrThrowPieceTokenizerErrors() throws {
        let folder = try makeTemporaryFolder("glance-tokenizer-fuzz")
        defer { remove(folder) }
        let seeds = [#"{"model": {"type": "Unigram", "vocab": [["<unk>", 0], ["▁the", -1.5], ["s", -2]]}, "added_tokens": [{"id": 3, "content": "<pad>"}], "#
                        + #""decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}}"#,
                     #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}}, "decoder": {"type": "Sequence", "decoders": "#
                        + #"[{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}}"#]
        let configuration = #"{"pad_token": "<pad>", "clean_up_tokenization_spaces": true}"#
        var tally = FuzzTally()
        for index in 0..<3_000 {
            var random = RandomGenerator(seed: 34_000 &+ UInt64(index))
            let tokenizer = Mutator().mutate(seeds[index % 2], &random)
            try Data(tokenizer.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
            let mutatedConfiguration = index % 3 == 0 ? Mutator().mutate(configuration, &random) : configuration
            try Data(mutatedConfiguration.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
            tally.record("\(tokenizer) with \(mutatedConfiguration)", isExpected: { $0 is PieceTokenizerError }) {
                let read = try PieceTokenizer(folder: folder)
                _ = read.decode(Array(0..<Swift.min(read.count, 8)) + [read.count, -1])
            }
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 50 && tally.refused > 1_000, "\(tally)")
    }
}
