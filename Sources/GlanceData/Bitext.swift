import Foundation

/// A parallel corpus: line i of the source file translates to line i of the target file
/// (UTF-8, one sentence per line, no empty lines).
public struct Bitext: Sendable, Equatable {
    public let source: [String]
    public let target: [String]

    public init(source: [String], target: [String]) {
        precondition(source.count == target.count, "a bitext needs as many source as target lines, got \(source.count) and \(target.count)")
        (self.source, self.target) = (source, target)
    }

    public var count: Int { source.count }

    /// Reads `source` and `target`; a missing file, invalid UTF-8, an empty line or line counts
    /// that differ throw a ``BitextError`` naming the file (and the line).
    public init(source sourceURL: URL, target targetURL: URL) throws {
        let source = try Self.lines(of: sourceURL), target = try Self.lines(of: targetURL)
        guard source.count == target.count else {
            throw BitextError(path: targetURL.path, line: nil,
                              reason: "has \(target.count) lines but \(sourceURL.path) has \(source.count): a bitext needs one target line per source line")
        }
        self.init(source: source, target: target)
    }

    /// The lines of a file (a final newline ends the last line; "\r\n" counts as one newline).
    public static func lines(of url: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BitextError(path: url.path, line: nil, reason: "cannot be read (\(error.localizedDescription))")
        }
        var rows = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if rows.last?.isEmpty == true { rows.removeLast() }
        return try rows.enumerated().map { index, row in
            var bytes = row
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            guard let line = String(validating: bytes, as: UTF8.self) else {
                throw BitextError(path: url.path, line: index + 1, reason: "is not valid UTF-8")
            }
            guard line.unicodeScalars.contains(where: { !$0.isPythonWhitespace }) else {
                throw BitextError(path: url.path, line: index + 1, reason: "is empty: every line of a bitext needs a sentence")
            }
            return line
        }
    }
}

/// A bitext file that cannot be used: the file, the line (1-based) when one is at fault, and why.
public struct BitextError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let line: Int?
    public let reason: String

    public init(path: String, line: Int?, reason: String) {
        (self.path, self.line, self.reason) = (path, line, reason)
    }

    public var description: String { "\(path)\(line.map { ", line \($0)," } ?? "") \(reason)" }
}

extension Bitext {
    /// The splits of a bitext folder.
    public enum Split: String, CaseIterable, Sendable {
        case train, valid, test
    }

    /// `folder/split.source` and `folder/split.target` (e.g. data/bible-en-es/train.en and train.es).
    public init(folder: URL, split: Split, source: String, target: String) throws {
        try self.init(source: folder.appendingPathComponent("\(split.rawValue).\(source)"),
                      target: folder.appendingPathComponent("\(split.rawValue).\(target)"))
    }

    /// Writes `folder/split.source` and `folder/split.target`, one line each per pair.
    public func write(folder: URL, split: Split, source: String, target: String) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (lines, language) in [(self.source, source), (self.target, target)] {
            let text = lines.map { $0 + "\n" }.joined()
            try Data(text.utf8).write(to: folder.appendingPathComponent("\(split.rawValue).\(language)"), options: .atomic)
        }
    }
}
