import Foundation
import GlanceCore

/// Problems with a labelled-text corpus on disk, naming the file (and the line).
public enum LabelledTextError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadable(path: String, reason: String)
    case malformedLine(path: String, line: Int, reason: String)
    case invalidClasses(path: String, reason: String)
    case emptySplit(path: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            "labelled corpus file \(path) does not exist (run `glance data fetch --corpus 20newsgroups` to get 20 Newsgroups)"
        case let .unreadable(path, reason): "cannot read labelled corpus file \(path): \(reason)"
        case let .malformedLine(path, line, reason): "\(path), line \(line): \(reason)"
        case let .invalidClasses(path, reason): "class list \(path): \(reason)"
        case let .emptySplit(path): "labelled corpus file \(path) holds no documents"
        }
    }
}

/// One document: its bytes and the index of its class.
public struct LabelledDocument: Sendable, Equatable {
    public let label: Int
    public let bytes: [UInt8]

    public init(label: Int, bytes: [UInt8]) {
        self.label = label
        self.bytes = bytes
    }
}

/// A labelled-text corpus: a folder holding `classes.txt` (one class name per line, the line
/// order gives the label indices), `train.tsv`, `test.tsv` and optionally `valid.tsv`, each
/// line `CLASS<TAB>TEXT` (the text is the rest of the line, bytes as they are; it cannot hold
/// a newline). Without `valid.tsv`, a seeded shuffle holds out a fraction of train.
public struct LabelledTextCorpus: Sendable {
    public enum Split: String, CaseIterable, Sendable { case train, valid, test }

    public let folder: URL
    public let classNames: [String]
    public let train: [LabelledDocument]
    public let valid: [LabelledDocument]
    public let test: [LabelledDocument]

    public static let classesFile = "classes.txt"

    /// Loads the corpus in `folder`. When `valid.tsv` is absent, `validationFraction` of the
    /// training documents (rounded down, at least one) go to validation, chosen by a shuffle
    /// seeded with `seed`.
    public init(folder: URL, validationFraction: Double = 0.1, seed: UInt64 = 0) throws {
        self.folder = folder
        let classesURL = folder.appendingPathComponent(Self.classesFile)
        classNames = try Self.readClassNames(from: classesURL)
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let allTrain = try Self.readDocuments(from: Self.url(of: .train, in: folder), classes: index)
        test = try Self.readDocuments(from: Self.url(of: .test, in: folder), classes: index)
        let validURL = Self.url(of: .valid, in: folder)
        if FileManager.default.fileExists(atPath: validURL.path) {
            train = allTrain
            valid = try Self.readDocuments(from: validURL, classes: index)
        } else {
            (train, valid) = Self.holdOut(fraction: validationFraction, of: allTrain, seed: seed)
        }
    }

    public func documents(of split: Split) -> [LabelledDocument] {
        switch split {
        case .train: train
        case .valid: valid
        case .test: test
        }
    }

    public static func url(of split: Split, in folder: URL) -> URL { folder.appendingPathComponent("\(split.rawValue).tsv") }

    /// Splits `documents` into (kept, held out): ⌊fraction·count⌋ documents held out (at
    /// least 1 when fraction > 0 and there are 2 or more), chosen as in ``holdOut(count:of:seed:)``.
    public static func holdOut(fraction: Double, of documents: [LabelledDocument], seed: UInt64)
        -> (kept: [LabelledDocument], heldOut: [LabelledDocument]) {
        precondition(fraction >= 0 && fraction < 1, "the held-out fraction must be in [0, 1), got \(fraction)")
        var count = Int(fraction * Double(documents.count))
        if fraction > 0 && documents.count >= 2 { count = Swift.max(count, 1) }
        return holdOut(count: count, of: documents, seed: seed)
    }

    /// Splits `documents` into (kept, held out): a seeded Fisher–Yates shuffle of the indices,
    /// the first `count` (at most all) held out; both parts keep the original order.
    public static func holdOut(count: Int, of documents: [LabelledDocument], seed: UInt64)
        -> (kept: [LabelledDocument], heldOut: [LabelledDocument]) {
        var generator = RandomGenerator(seed: seed)
        var order = Array(documents.indices)
        order.shuffle(using: &generator)
        let held = Set(order.prefix(Swift.max(count, 0)))
        var kept: [LabelledDocument] = [], heldOut: [LabelledDocument] = []
        for (i, document) in documents.enumerated() {
            if held.contains(i) { heldOut.append(document) } else { kept.append(document) }
        }
        return (kept, heldOut)
    }

    /// Reads `classes.txt`: one non-empty, unique name per line, without tabs.
    public static func readClassNames(from url: URL) throws -> [String] {
        let lines = try readLines(url)
        var names: [String] = []
        for (number, line) in lines.enumerated() {
            let name = String(decoding: line, as: UTF8.self)
            guard !name.isEmpty, !name.contains("\t") else {
                throw LabelledTextError.malformedLine(path: url.path, line: number + 1, reason: "a class name must be non-empty and hold no tab")
            }
            guard !names.contains(name) else {
                throw LabelledTextError.malformedLine(path: url.path, line: number + 1, reason: "class '\(name)' is listed twice")
            }
            names.append(name)
        }
        guard names.count >= 2 else { throw LabelledTextError.invalidClasses(path: url.path, reason: "needs at least 2 classes, found \(names.count)") }
        return names
    }

    /// Reads one split file: `CLASS<TAB>TEXT` per line, with a known class and a non-empty text.
    public static func readDocuments(from url: URL, classes: [String: Int]) throws -> [LabelledDocument] {
        var documents: [LabelledDocument] = []
        for (number, line) in try readLines(url).enumerated() {
            func malformed(_ reason: String) -> LabelledTextError { .malformedLine(path: url.path, line: number + 1, reason: reason) }
            guard let tab = line.firstIndex(of: UInt8(ascii: "\t")) else { throw malformed("expected CLASS<TAB>TEXT, found no tab") }
            let name = String(decoding: line[..<tab], as: UTF8.self)
            guard let label = classes[name] else { throw malformed("unknown class '\(name)' (not in \(classesFile))") }
            let text = Array(line[(tab + 1)...])
            guard !text.isEmpty else { throw malformed("the document text is empty") }
            documents.append(LabelledDocument(label: label, bytes: text))
        }
        guard !documents.isEmpty else { throw LabelledTextError.emptySplit(path: url.path) }
        return documents
    }

    /// Writes a corpus folder in this format: `classes.txt` and one `SPLIT.tsv` per given
    /// split. Tabs, carriage returns and newlines inside texts become spaces.
    public static func write(classNames: [String], splits: [Split: [LabelledDocument]], into folder: URL) throws {
        try writeAtomically(Data((classNames.joined(separator: "\n") + "\n").utf8), to: folder.appendingPathComponent(classesFile))
        let separators: Set<UInt8> = [UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")]
        for (split, documents) in splits {
            var data = Data()
            for document in documents {
                data.append(contentsOf: classNames[document.label].utf8)
                data.append(UInt8(ascii: "\t"))
                data.append(contentsOf: document.bytes.map { separators.contains($0) ? UInt8(ascii: " ") : $0 })
                data.append(UInt8(ascii: "\n"))
            }
            try writeAtomically(data, to: url(of: split, in: folder))
        }
    }

    /// The lines of a file as bytes, without their terminators (`\n` or `\r\n`); a final
    /// newline does not start another line.
    static func readLines(_ url: URL) throws -> [ArraySlice<UInt8>] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw LabelledTextError.missingFile(path: url.path) }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw LabelledTextError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard !bytes.isEmpty else { return [] }
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if bytes.last == UInt8(ascii: "\n") { lines.removeLast() }
        return lines.map { $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0 }
    }
}
