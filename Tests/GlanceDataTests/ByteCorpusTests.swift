import Foundation
import GlanceCore
import GlanceData
import Testing

/// A fresh, empty temporary folder; the caller removes it (`defer { folder.remove() }`).
struct TemporaryFolder {
    let url: URL
    init(_ name: String = "glance-data-tests") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: url.appendingPathComponent(name))
    }
}

@Suite struct ByteCorpusTests {
    @Test("a missing folder throws missingSplit naming train.txt")
    func missingFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-no-such-corpus-\(UUID().uuidString)")
        let expected = folder.appendingPathComponent("train.txt").path
        #expect(throws: CorpusError.missingSplit(path: expected)) { try ByteCorpus(folder: folder) }
        do {
            _ = try ByteCorpus(folder: folder)
        } catch {
            #expect("\(error)".contains(expected))
        }
    }

    @Test("a missing required split throws missingSplit naming its path")
    func missingSplit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("some training text", to: "train.txt")
        try folder.write("some test text", to: "test.txt")
        let valid = folder.url.appendingPathComponent("valid.txt").path
        #expect(throws: CorpusError.missingSplit(path: valid)) { try ByteCorpus(folder: folder.url) }
        #expect(throws: CorpusError.missingSplit(path: valid)) { try ByteCorpus(folder: folder.url, requiredSplits: [.train, .valid]) }
        // Splits that are not required may be absent: they load as empty.
        let corpus = try ByteCorpus(folder: folder.url, requiredSplits: [.train])
        #expect(corpus.train == Array("some training text".utf8))
        #expect(corpus.valid.isEmpty)
        #expect(corpus.test == Array("some test text".utf8))
        #expect(corpus.bytes(of: .test) == corpus.test)
        #expect(corpus.path(of: .valid) == valid)
    }

    @Test("an empty required split throws tooSmall; an empty optional one loads")
    func emptySplit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("", to: "train.txt")
        try folder.write("valid", to: "valid.txt")
        try folder.write("", to: "test.txt")
        let train = folder.url.appendingPathComponent("train.txt").path
        #expect(throws: CorpusError.tooSmall(path: train, bytes: 0, needed: 2)) { try ByteCorpus(folder: folder.url) }
        try folder.write("train", to: "train.txt")
        let test = folder.url.appendingPathComponent("test.txt").path
        #expect(throws: CorpusError.tooSmall(path: test, bytes: 0, needed: 2)) { try ByteCorpus(folder: folder.url) }
        let corpus = try ByteCorpus(folder: folder.url, requiredSplits: [.train, .valid])
        #expect(corpus.test.isEmpty && corpus.valid == Array("valid".utf8))
    }

    @Test("a split that cannot be read throws unreadable naming its path")
    func unreadableSplit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("train.txt"), withIntermediateDirectories: true)
        try folder.write("v", to: "valid.txt")
        try folder.write("t", to: "test.txt")
        let train = folder.url.appendingPathComponent("train.txt").path
        #expect {
            _ = try ByteCorpus(folder: folder.url)
        } throws: { error in
            guard case let .unreadable(path, _) = error as? CorpusError else { return false }
            return path == train && "\(error)".contains(train)
        }
    }

    @Test("loading reads the bytes unchanged, including non-ASCII and NUL bytes")
    func bytesRoundTrip() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let bytes: [UInt8] = [0, 1, 2, 0xFF, 0xC3, 0xA9, 10, 13, 0x7F]
        try Data(bytes).write(to: folder.url.appendingPathComponent("train.txt"))
        try folder.write("é", to: "valid.txt")
        try folder.write("x", to: "test.txt")
        let corpus = try ByteCorpus(folder: folder.url)
        #expect(corpus.train == bytes)
        #expect(corpus.valid == [0xC3, 0xA9])
        #expect(corpus.folder == folder.url)
    }

    @Test("write(splitting:into:) cuts at floor(90%) and floor(95%)", arguments: [0, 1, 7, 19, 20, 100, 999, 1000, 1001, 12345])
    func splitting(_ count: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let text = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let target = folder.url.appendingPathComponent("nested/corpus")
        try ByteCorpus.write(splitting: text, into: target)
        let read = { (name: String) in [UInt8](try Data(contentsOf: target.appendingPathComponent(name))) }
        let (train, valid, test) = (try read("train.txt"), try read("valid.txt"), try read("test.txt"))
        let firstCut = count * 90 / 100, secondCut = count * 95 / 100
        #expect(train.count == firstCut)
        #expect(valid.count == secondCut - firstCut)
        #expect(test.count == count - secondCut)
        #expect(train + valid + test == text)
        // No temporary files are left beside the splits.
        let names = try FileManager.default.contentsOfDirectory(atPath: target.path).sorted()
        #expect(names == ["test.txt", "train.txt", "valid.txt"])
    }

    @Test("cut points of a concrete example")
    func splittingExample() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try ByteCorpus.write(splitting: Array(repeating: UInt8(ascii: "a"), count: 999), into: folder.url)
        let corpus = try ByteCorpus(folder: folder.url)
        #expect(corpus.train.count == 899 && corpus.valid.count == 50 && corpus.test.count == 50)
    }

    @Test("writing again replaces the splits")
    func rewriting() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try ByteCorpus.write(splitting: Array(repeating: UInt8(ascii: "a"), count: 200), into: folder.url)
        try ByteCorpus.write(splitting: Array(repeating: UInt8(ascii: "b"), count: 100), into: folder.url)
        let corpus = try ByteCorpus(folder: folder.url)
        #expect(corpus.train == Array(repeating: UInt8(ascii: "b"), count: 90))
        #expect(corpus.test.count == 5)
    }

    @Test("error descriptions name the file")
    func descriptions() {
        #expect(CorpusError.missingSplit(path: "/x/train.txt").description.contains("/x/train.txt"))
        let tooSmall = CorpusError.tooSmall(path: "/x/valid.txt", bytes: 3, needed: 10).description
        #expect(tooSmall.contains("/x/valid.txt") && tooSmall.contains("3") && tooSmall.contains("10"))
        #expect(CorpusError.unreadable(path: "/x/test.txt", reason: "denied").description.contains("denied"))
    }
}
