import Foundation

/// A byte-level byte-pair encoding (Sennrich et al. 2016) learned from training text.
///
/// Ids 0, 1 and 2 are padding, beginning and end of sentence; ids 3…258 are the 256 bytes, so
/// every text encodes (byte fallback: a character never seen in training is spelled by its
/// UTF-8 bytes, there is no unknown token); id 259 + i is the symbol made by merge i.
///
/// A line is split into words at whitespace; each word is encoded as the bytes of a space
/// followed by the word, and merges never cross words. Decoding joins the words with single
/// spaces, so runs of whitespace (tabs, double spaces) come back as one space.
///
/// Learning counts the words of the text, then repeatedly merges the most frequent adjacent
/// pair of symbols (ties: the smaller pair of ids), until the vocabulary has the requested
/// size or no pair occurs twice. Encoding applies the merges in the order they were learned.
public struct BytePairEncoding: Sendable, Equatable {
    public static let paddingID = 0
    public static let beginID = 1
    public static let endID = 2
    /// The id of byte 0; byte b is `firstByteID + b`.
    public static let firstByteID = 3
    /// Ids below this are the specials and the bytes.
    public static let baseVocabularySize = firstByteID + 256

    /// Merge i joins `merges[i].0` and `merges[i].1` into id `baseVocabularySize + i`.
    public let merges: [SymbolPair]
    private let ranks: [SymbolPair: Int]

    /// Two adjacent symbols.
    public struct SymbolPair: Hashable, Sendable, Comparable {
        public let left: Int
        public let right: Int

        public init(_ left: Int, _ right: Int) { (self.left, self.right) = (left, right) }

        public static func < (a: Self, b: Self) -> Bool { (a.left, a.right) < (b.left, b.right) }
    }

    /// An encoding with these merges (each pair's ids must exist before the merge).
    public init(merges: [SymbolPair]) {
        self.merges = merges
        ranks = Dictionary(uniqueKeysWithValues: merges.enumerated().map { ($1, $0) })
    }

    /// Ids in use: specials, bytes and merges.
    public var vocabularySize: Int { Self.baseVocabularySize + merges.count }

    public static func == (a: Self, b: Self) -> Bool { a.merges == b.merges }

    /// Learns up to `vocabularySize − 259` merges from `lines`.
    public static func learn(from lines: [String], vocabularySize: Int) -> BytePairEncoding {
        precondition(vocabularySize >= baseVocabularySize, "a byte-pair vocabulary has at least \(baseVocabularySize) ids, got \(vocabularySize)")
        var wordCounts: [[UInt8]: Int] = [:]
        for line in lines {
            for word in words(of: line) { wordCounts[word, default: 0] += 1 }
        }
        var learner = MergeLearner(words: wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) })
        return BytePairEncoding(merges: learner.learn(count: vocabularySize - baseVocabularySize))
    }

    /// The bytes of each word of `line`, with a leading space.
    static func words(of line: String) -> [[UInt8]] {
        splitOnPythonWhitespace(line.unicodeScalars).map { [UInt8(ascii: " ")] + Array($0.utf8) }
    }

    /// The ids of `line` (no beginning or end marker).
    public func encode(_ line: String) -> [Int] {
        var cache: [[UInt8]: [Int]] = [:]
        return encode(line, cache: &cache)
    }

    /// The ids of each line, sharing the encodings of repeated words.
    public func encode(_ lines: [String]) -> [[Int]] {
        var cache: [[UInt8]: [Int]] = [:]
        return lines.map { encode($0, cache: &cache) }
    }

    private func encode(_ line: String, cache: inout [[UInt8]: [Int]]) -> [Int] {
        Self.words(of: line).flatMap { word in
            if let known = cache[word] { return known }
            let symbols = encodeWord(word)
            cache[word] = symbols
            return symbols
        }
    }

    /// A word's bytes merged by the lowest-ranked pair first, all its occurrences at once.
    private func encodeWord(_ word: [UInt8]) -> [Int] {
        var symbols = word.map { Self.firstByteID + Int($0) }
        while symbols.count > 1 {
            var best: (rank: Int, pair: SymbolPair)? = nil
            for index in 0..<(symbols.count - 1) {
                let pair = SymbolPair(symbols[index], symbols[index + 1])
                if let rank = ranks[pair], rank < best?.rank ?? .max { best = (rank, pair) }
            }
            guard let best else { break }
            symbols = Self.merging(best.pair, into: Self.baseVocabularySize + best.rank, in: symbols)
        }
        return symbols
    }

    /// `symbols` with each non-overlapping occurrence of `pair` (left to right) replaced by `merged`.
    static func merging(_ pair: SymbolPair, into merged: Int, in symbols: [Int]) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(symbols.count)
        var index = 0
        while index < symbols.count {
            if index + 1 < symbols.count && symbols[index] == pair.left && symbols[index + 1] == pair.right {
                result.append(merged)
                index += 2
            } else {
                result.append(symbols[index])
                index += 1
            }
        }
        return result
    }

    /// The text of `ids`: specials are skipped, words joined by single spaces; bytes that are
    /// not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, to: &bytes) }
        if bytes.first == UInt8(ascii: " ") { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func appendBytes(of id: Int, to bytes: inout [UInt8]) {
        precondition(id >= 0 && id < vocabularySize, "token id \(id) is outside the vocabulary 0..<\(vocabularySize)")
        if id < Self.firstByteID { return }
        if id < Self.baseVocabularySize { bytes.append(UInt8(id - Self.firstByteID)); return }
        let pair = merges[id - Self.baseVocabularySize]
        appendBytes(of: pair.left, to: &bytes)
        appendBytes(of: pair.right, to: &bytes)
    }
}

extension BytePairEncoding {
    /// The file name of a run's encoding.
    public static let fileName = "bpe.json"

    private struct File: Codable {
        var format: String
        var merges: [[Int]]
    }

    /// Writes `{"format": "glance-bpe-1", "merges": [[left, right], …]}`.
    public func save(to url: URL) throws {
        let file = File(format: "glance-bpe-1", merges: merges.map { [$0.left, $0.right] })
        try JSONEncoder().encode(file).write(to: url, options: .atomic)
    }

    /// Reads a file that ``save(to:)`` wrote; anything else throws a ``BytePairEncodingError`` naming the file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw BytePairEncodingError(path: url.path, reason: "cannot be read (\(error.localizedDescription))") }
        guard let file = try? JSONDecoder().decode(File.self, from: data), file.format == "glance-bpe-1" else {
            throw BytePairEncodingError(path: url.path, reason: "is not a glance-bpe-1 JSON file")
        }
        var pairs: [SymbolPair] = []
        for (index, merge) in file.merges.enumerated() {
            let known = Self.baseVocabularySize + index
            guard merge.count == 2, merge.allSatisfy({ $0 >= Self.firstByteID && $0 < known }) else {
                throw BytePairEncodingError(path: url.path, reason: "merge \(index) is \(merge): it must join two ids in \(Self.firstByteID)..<\(known)")
            }
            pairs.append(SymbolPair(merge[0], merge[1]))
        }
        guard Set(pairs).count == pairs.count else { throw BytePairEncodingError(path: url.path, reason: "repeats a merge") }
        self.init(merges: pairs)
    }
}

/// A byte-pair encoding file that cannot be used.
public struct BytePairEncodingError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }

    public var description: String { "byte-pair encoding \(path) \(reason)" }
}

/// The merge loop of ``BytePairEncoding/learn(from:vocabularySize:)``: pair counts kept up to
/// date as words change, the best pair found through a heap whose stale entries are skipped.
private struct MergeLearner {
    typealias Pair = BytePairEncoding.SymbolPair
    var words: [[Int]]
    let frequencies: [Int]
    var pairCounts: [Pair: Int] = [:]
    var wordsWithPair: [Pair: [Int]] = [:]
    var heap = PairHeap()

    init(words counted: [(key: [UInt8], value: Int)]) {
        words = counted.map { $0.key.map { BytePairEncoding.firstByteID + Int($0) } }
        frequencies = counted.map(\.value)
        for (index, word) in words.enumerated() {
            for pair in Self.pairs(of: word) {
                pairCounts[pair, default: 0] += frequencies[index]
                wordsWithPair[pair, default: []].append(index)
            }
        }
        for (pair, count) in pairCounts { heap.push(count: count, pair: pair) }
    }

    static func pairs(of word: [Int]) -> [Pair] {
        word.count < 2 ? [] : (0..<(word.count - 1)).map { Pair(word[$0], word[$0 + 1]) }
    }

    mutating func learn(count: Int) -> [Pair] {
        var merges: [Pair] = []
        while merges.count < count, let (entryCount, pair) = heap.pop() {
            guard pairCounts[pair] == entryCount else { continue }
            guard entryCount >= 2 else { break }
            let merged = BytePairEncoding.baseVocabularySize + merges.count
            merges.append(pair)
            apply(pair, merged: merged)
        }
        return merges
    }

    /// Merges `pair` in every word that holds it, updating the counts of the pairs that change.
    mutating func apply(_ pair: Pair, merged: Int) {
        var changed = Set<Pair>()
        var visited = Set<Int>()
        for index in wordsWithPair[pair] ?? [] where visited.insert(index).inserted {
            let old = words[index]
            let new = BytePairEncoding.merging(pair, into: merged, in: old)
            guard new.count != old.count else { continue }
            let frequency = frequencies[index]
            for p in Self.pairs(of: old) { pairCounts[p, default: 0] -= frequency; changed.insert(p) }
            for p in Self.pairs(of: new) {
                pairCounts[p, default: 0] += frequency
                changed.insert(p)
                if p.left == merged || p.right == merged { wordsWithPair[p, default: []].append(index) }
            }
            words[index] = new
        }
        wordsWithPair[pair] = nil
        pairCounts[pair] = nil
        changed.remove(pair)
        for p in changed {
            let count = pairCounts[p] ?? 0
            if count > 0 { heap.push(count: count, pair: p) } else { pairCounts[p] = nil }
        }
    }
}

/// A max-heap of (count, pair); among equal counts the smaller pair comes first.
private struct PairHeap {
    private var entries: [(count: Int, pair: BytePairEncoding.SymbolPair)] = []

    private func before(_ i: Int, _ j: Int) -> Bool {
        entries[i].count != entries[j].count ? entries[i].count > entries[j].count : entries[i].pair < entries[j].pair
    }

    mutating func push(count: Int, pair: BytePairEncoding.SymbolPair) {
        entries.append((count, pair))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(child, parent) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int, BytePairEncoding.SymbolPair)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < entries.count && before(left, best) { best = left }
                if right < entries.count && before(right, best) { best = right }
                guard best != parent else { break }
                entries.swapAt(parent, best)
                parent = best
            }
        }
        return (top.count, top.pair)
    }
}
