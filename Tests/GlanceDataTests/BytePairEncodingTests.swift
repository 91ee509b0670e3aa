import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct BytePairEncodingTests {
    static let text = [
        "In the beginning God created the heaven and the earth.",
        "EN el principio crió Dios los cielos y la tierra.",
        "And the earth was without form, and void; and darkness was upon the face of the deep.",
        "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo.",
    ]

    @Test("learns merges of frequent pairs, up to the vocabulary size")
    func learns() {
        let bpe = BytePairEncoding.learn(from: Self.text, vocabularySize: 300)
        #expect(bpe.vocabularySize <= 300 && bpe.vocabularySize > BytePairEncoding.baseVocabularySize)
        // The most frequent pair of the text: " " + "t" (" the", " tierra", " tinieblas", …) or "e" + " "… ; either way the
        // first merge joins two bytes, and encoding gets shorter than the bytes.
        #expect(bpe.merges[0].left < BytePairEncoding.baseVocabularySize && bpe.merges[0].right < BytePairEncoding.baseVocabularySize)
        let ids = bpe.encode(Self.text[0])
        #expect(ids.count < Self.text[0].utf8.count)
        #expect(BytePairEncoding.learn(from: Self.text, vocabularySize: 300) == bpe, "learning is deterministic")
    }

    @Test("a tiny hand-checked corpus: 'aaab' merges (a, a) first")
    func handChecked() {
        let bpe = BytePairEncoding.learn(from: ["aaab aaab", "aa"], vocabularySize: BytePairEncoding.baseVocabularySize + 1)
        let a = BytePairEncoding.firstByteID + Int(UInt8(ascii: "a"))
        // Pairs: (space,a) ×3, (a,a) 2·2 + 1 = 5, (a,b) ×2: (a, a) wins.
        #expect(bpe.merges == [BytePairEncoding.SymbolPair(a, a)])
        let aa = BytePairEncoding.baseVocabularySize
        let space = BytePairEncoding.firstByteID + 32, b = BytePairEncoding.firstByteID + Int(UInt8(ascii: "b"))
        #expect(bpe.encode("aaab") == [space, aa, a, b])
    }

    @Test("encode then decode gives the text back, unseen characters included (byte fallback)",
          arguments: ["In the beginning God created", "¿Qué pasó? ñandú 東京 🙂", "x"])
    func roundTrip(_ line: String) {
        let bpe = BytePairEncoding.learn(from: Self.text, vocabularySize: 400)
        let ids = bpe.encode(line)
        #expect(ids.allSatisfy { $0 >= BytePairEncoding.firstByteID && $0 < bpe.vocabularySize })
        #expect(bpe.decode(ids) == line)
        #expect(bpe.decode([BytePairEncoding.beginID] + ids + [BytePairEncoding.endID, BytePairEncoding.paddingID]) == line)
    }

    @Test("whitespace runs decode as single spaces") func whitespace() {
        let bpe = BytePairEncoding.learn(from: Self.text, vocabularySize: 300)
        #expect(bpe.decode(bpe.encode("  a \t b  ")) == "a b")
        #expect(bpe.encode("   ").isEmpty)
    }

    @Test("saves and loads; a broken file is an error naming it") func saveLoad() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let bpe = BytePairEncoding.learn(from: Self.text, vocabularySize: 350)
        let url = folder.appendingPathComponent(BytePairEncoding.fileName)
        try bpe.save(to: url)
        #expect(try BytePairEncoding(contentsOf: url) == bpe)
        try Data(#"{"format": "glance-bpe-1", "merges": [[3, 900]]}"#.utf8).write(to: url)
        #expect { try BytePairEncoding(contentsOf: url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("merge 0") }
        try Data("not json".utf8).write(to: url)
        #expect { try BytePairEncoding(contentsOf: url) } throws: { "\($0)".contains("glance-bpe-1") }
    }
}
