import Foundation
import GlanceCore
import GlanceData
import Testing

@Suite struct LabelledTextCorpusTests {
    /// A small corpus folder: classes a/b/c, 20 training documents, 2 test ones, and valid.tsv if asked.
    static func writeCorpus(_ folder: TemporaryFolder, valid: Bool) throws {
        try folder.write("a\nb\nc\n", to: "classes.txt")
        try folder.write((0..<20).map { "\(["a", "b", "c"][$0 % 3])\tdocument \($0)\n" }.joined(), to: "train.tsv")
        try folder.write("c\tlast one\r\nb\ttabs\tstay\tin the text\n", to: "test.tsv")
        if valid { try folder.write("b\tvalidation text", to: "valid.tsv") }
    }

    @Test("reads classes and documents; CRLF and a missing final newline are accepted; tabs after the first stay in the text")
    func reads() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Self.writeCorpus(folder, valid: true)
        let corpus = try LabelledTextCorpus(folder: folder.url)
        #expect(corpus.classNames == ["a", "b", "c"])
        #expect(corpus.train.count == 20)
        #expect(corpus.train[4] == LabelledDocument(label: 1, bytes: Array("document 4".utf8)))
        #expect(corpus.valid == [LabelledDocument(label: 1, bytes: Array("validation text".utf8))])
        #expect(corpus.test == [LabelledDocument(label: 2, bytes: Array("last one".utf8)),
                                LabelledDocument(label: 1, bytes: Array("tabs\tstay\tin the text".utf8))])
        #expect(corpus.documents(of: .test) == corpus.test)
    }

    @Test("without valid.tsv, a seeded 10% of train is held out: a partition, reproducible, seed-dependent")
    func holdOut() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Self.writeCorpus(folder, valid: false)
        let a = try LabelledTextCorpus(folder: folder.url, validationFraction: 0.1, seed: 3)
        let b = try LabelledTextCorpus(folder: folder.url, validationFraction: 0.1, seed: 3)
        #expect(a.valid.count == 2 && a.train.count == 18)
        #expect(a.train == b.train && a.valid == b.valid)
        let all = Set((a.train + a.valid).map { String(decoding: $0.bytes, as: UTF8.self) })
        #expect(all.count == 20)
        let others = (0..<10).map { seed in try? LabelledTextCorpus(folder: folder.url, validationFraction: 0.1, seed: UInt64(seed)).valid }
        #expect(others.contains { $0 != a.valid }, "every seed held out the same documents")
        // Both parts keep file order.
        let numbers = a.train.map { Int(String(decoding: $0.bytes.dropFirst(9), as: UTF8.self))! }
        #expect(numbers == numbers.sorted())
        // A tiny fraction still holds one document out.
        #expect(LabelledTextCorpus.holdOut(fraction: 0.01, of: a.train, seed: 0).heldOut.count == 1)
    }

    @Test("malformed files throw errors naming the file and the line",
          arguments: [
            ("train.tsv", "a\tfine\nno tab here\n", 2, "no tab"),
            ("train.tsv", "a\tfine\nz\tunknown class\n", 2, "unknown class 'z'"),
            ("train.tsv", "a\tfine\nb\tok\nc\t\n", 3, "empty"),
            ("train.tsv", "a\tfine\n\nb\tok\n", 2, "no tab"),
            ("classes.txt", "a\nb\na\n", 3, "twice"),
            ("classes.txt", "a\n\nb\n", 2, "non-empty"),
          ])
    func malformed(_ file: String, _ contents: String, _ line: Int, _ reason: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Self.writeCorpus(folder, valid: true)
        try folder.write(contents, to: file)
        let path = folder.url.appendingPathComponent(file).path
        do {
            _ = try LabelledTextCorpus(folder: folder.url)
            Issue.record("expected an error for \(contents.debugDescription)")
        } catch let error as LabelledTextError {
            guard case let .malformedLine(errorPath, errorLine, _) = error else { Issue.record("got \(error)"); return }
            #expect(errorPath == path && errorLine == line)
            #expect("\(error)".contains(path) && "\(error)".contains("line \(line)") && "\(error)".contains(reason), "\(error)")
        }
    }

    @Test("missing files, empty splits and a single class are reported with the path")
    func missingAndEmpty() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let classes = folder.url.appendingPathComponent("classes.txt").path
        #expect(throws: LabelledTextError.missingFile(path: classes)) { try LabelledTextCorpus(folder: folder.url) }
        try Self.writeCorpus(folder, valid: false)
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("test.tsv"))
        let test = folder.url.appendingPathComponent("test.tsv").path
        #expect(throws: LabelledTextError.missingFile(path: test)) { try LabelledTextCorpus(folder: folder.url) }
        try folder.write("", to: "test.tsv")
        #expect(throws: LabelledTextError.emptySplit(path: test)) { try LabelledTextCorpus(folder: folder.url) }
        try folder.write("only\n", to: "classes.txt")
        #expect(throws: LabelledTextError.invalidClasses(path: classes, reason: "needs at least 2 classes, found 1")) {
            try LabelledTextCorpus(folder: folder.url)
        }
    }

    @Test("write then read gives the same corpus; separators inside texts become spaces")
    func roundTrip() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let train = [LabelledDocument(label: 0, bytes: Array("one\ttwo\nthree".utf8)), LabelledDocument(label: 1, bytes: [0xC3, 0xA9, 0x20, 0xFF])]
        let test = [LabelledDocument(label: 1, bytes: Array("x".utf8))]
        try LabelledTextCorpus.write(classNames: ["neg", "pos"], splits: [.train: train, .valid: test, .test: test], into: folder.url)
        let corpus = try LabelledTextCorpus(folder: folder.url)
        #expect(corpus.classNames == ["neg", "pos"])
        #expect(corpus.train == [LabelledDocument(label: 0, bytes: Array("one two three".utf8)), train[1]])
        #expect(corpus.valid == test && corpus.test == test)
    }
}

@Suite struct OrangeTableTests {
    static let header = "Category\tText\nd\tstring\nclass\t\n\n"

    @Test("reads the class-flagged column and the string column, skipping blank rows; converts to a corpus")
    func convert() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let rows = (0..<30).map { "\($0 % 2 == 0 ? "sci.space" : "rec.autos")\tpost number \($0)\n" }.joined()
        try folder.write(Self.header + rows, to: "train.tab")
        // Columns in another order: the text first, the class last.
        try folder.write("Text\tCategory\nstring\td\n\tclass\nan empty one follows\tsci.space\n\trec.autos\n", to: "test.tab")
        let texts = try OrangeTable.readLabelledTexts(from: folder.url.appendingPathComponent("test.tab"))
        #expect(texts.map(\.className) == ["sci.space", "rec.autos"])
        let out = folder.url.appendingPathComponent("corpus")
        let (written, dropped) = try OrangeTable.convert(train: folder.url.appendingPathComponent("train.tab"),
                                                         test: folder.url.appendingPathComponent("test.tab"), into: out, seed: 5)
        #expect(written == [.train: 27, .valid: 3, .test: 1] && dropped == 1)
        let corpus = try LabelledTextCorpus(folder: out)
        #expect(corpus.classNames == ["rec.autos", "sci.space"])
        #expect(corpus.test == [LabelledDocument(label: 1, bytes: Array("an empty one follows".utf8))])
        #expect(Set((corpus.train + corpus.valid).map { String(decoding: $0.bytes, as: UTF8.self) }).count == 30)
        #expect(corpus.train.allSatisfy { doc in
            let number = Int(String(decoding: doc.bytes.dropFirst(12), as: UTF8.self))!
            return doc.label == (number % 2 == 0 ? 1 : 0)
        })
    }

    @Test("a row with the wrong number of fields, a missing class flag or a test class unseen in train are errors")
    func malformed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appendingPathComponent("t.tab")
        try folder.write(Self.header + "a\tfine\nb\tx\ty\n", to: "t.tab")
        #expect(throws: LabelledTextError.malformedLine(path: url.path, line: 6, reason: "expected 2 tab-separated fields, found 3")) {
            try OrangeTable.readLabelledTexts(from: url)
        }
        try folder.write("Category\tText\nd\tstring\n\t\na\tfine\n", to: "t.tab")
        #expect(throws: LabelledTextError.malformedLine(path: url.path, line: 3, reason: "no column is flagged 'class'")) {
            try OrangeTable.readLabelledTexts(from: url)
        }
        try folder.write(Self.header + "a\tfine\nb\tgood\n", to: "train.tab")
        try folder.write(Self.header + "c\tnew\n", to: "test.tab")
        #expect(throws: LabelledTextError.self) {
            try OrangeTable.convert(train: folder.url.appendingPathComponent("train.tab"), test: folder.url.appendingPathComponent("test.tab"),
                                    into: folder.url.appendingPathComponent("out"))
        }
    }
}

@Suite struct DocumentBatchTests {
    static let documents = [LabelledDocument(label: 2, bytes: Array("abcdef".utf8)), LabelledDocument(label: 0, bytes: Array("xy".utf8))]

    @Test("cuts long documents, pads short ones with 0 and marks the padding")
    func padding() {
        let batch = DocumentBatch(Self.documents, length: 4)
        #expect(batch.inputs.shape == [2, 4])
        #expect(batch.inputs.values == [97, 98, 99, 100, 120, 121, 0, 0])
        #expect(batch.keyPadding == [[true, true, true, true], [true, true, false, false]])
        #expect(batch.labels == [2, 0])
    }

    @Test("shuffled batches: each epoch visits every document once, in a new order; the same seed or a saved state replays the stream")
    func shuffled() throws {
        var batches = ShuffledDocumentBatches(documentCount: 10, seed: 7)
        var epochs: [[Int]] = []
        for _ in 0..<3 {
            var epoch: [Int] = []
            while epoch.count < 10 { epoch += batches.nextIndices(size: 4) }
            #expect(epoch.count == 10 && Set(epoch).count == 10)
            epochs.append(epoch)
        }
        #expect(batches.epoch == 3)
        #expect(epochs[0] != epochs[1] || epochs[1] != epochs[2])
        var again = ShuffledDocumentBatches(documentCount: 10, seed: 7)
        #expect(again.nextIndices(size: 4) == Array(epochs[0].prefix(4)))
        let saved = try JSONDecoder().decode(ShuffledDocumentBatches.self, from: try JSONEncoder().encode(again))
        var copy = saved
        #expect(copy.nextIndices(size: 3) == again.nextIndices(size: 3))
        let batch = copy.next(from: (0..<10).map { LabelledDocument(label: $0 % 2, bytes: [UInt8($0 + 1)]) }, size: 3, length: 2)
        #expect(batch.inputs.shape == [3, 2] && batch.keyPadding.allSatisfy { $0 == [true, false] })
    }

    @Test("a saved batch state that cannot continue does not decode: position past the order, an order that is no permutation, no documents")
    func shuffledStateValidation() throws {
        var batches = ShuffledDocumentBatches(documentCount: 4, seed: 7)
        _ = batches.nextIndices(size: 3)
        let saved = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(batches)) as? [String: Any])
        for (key, value) in [("position", 5 as Any), ("position", -1), ("order", [0, 1, 2, 2]), ("order", [0, 1, 2, 7]), ("documentCount", 0),
                             ("epoch", -1)] {
            var tampered = saved
            tampered[key] = value
            let data = try JSONSerialization.data(withJSONObject: tampered)
            #expect(throws: DecodingError.self, "\(key) \(value)") { try JSONDecoder().decode(ShuffledDocumentBatches.self, from: data) }
        }
        #expect(try JSONDecoder().decode(ShuffledDocumentBatches.self, from: JSONSerialization.data(withJSONObject: saved)) == batches)
    }
}
