import Foundation
import GlanceCore

/// Problems with a corpus on disk.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
    case missingSplit(path: String)
    case tooSmall(path: String, bytes: Int, needed: Int)
    case unreadable(path: String, reason: String)
    case outsideVocabulary(path: String, byte: UInt8, offset: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case let .missingSplit(path):
            "corpus file \(path) does not exist (run `glance data fetch` or `make data` to download the default corpus)"
        case let .tooSmall(path, bytes, needed):
            "corpus file \(path) has \(bytes) bytes; at least \(needed) are needed for one window"
        case let .unreadable(path, reason): "cannot read corpus file \(path): \(reason)"
        case let .outsideVocabulary(path, byte, offset, vocabularySize):
            "corpus file \(path) has byte \(byte) at offset \(offset), outside the model's vocabulary 0..<\(vocabularySize) (model.vocab_size)"
        }
    }
}

/// The three splits of a byte-level corpus: a folder holding train.txt, valid.txt and test.txt.
public struct ByteCorpus: Sendable {
    public enum Split: String, CaseIterable, Sendable { case train, valid, test }

    public let folder: URL
    public let train: [UInt8]
    public let valid: [UInt8]
    public let test: [UInt8]

    /// Loads the splits; `requiredSplits` must exist and be non-empty.
    public init(folder: URL, requiredSplits: Set<Split> = Set(Split.allCases)) throws {
        self.folder = folder
        func load(_ split: Split) throws -> [UInt8] {
            let url = folder.appendingPathComponent("\(split.rawValue).txt")
            guard FileManager.default.fileExists(atPath: url.path) else {
                if requiredSplits.contains(split) { throw CorpusError.missingSplit(path: url.path) }
                return []
            }
            do {
                let bytes = [UInt8](try Data(contentsOf: url))
                if bytes.isEmpty && requiredSplits.contains(split) { throw CorpusError.tooSmall(path: url.path, bytes: 0, needed: 2) }
                return bytes
            } catch let error as CorpusError { throw error } catch {
                throw CorpusError.unreadable(path: url.path, reason: error.localizedDescription)
            }
        }
        train = try load(.train)
        valid = try load(.valid)
        test = try load(.test)
    }

    /// Throws ``CorpusError/outsideVocabulary(path:byte:offset:vocabularySize:)`` for the first
    /// byte of a split that is not a token of a vocabulary of `vocabularySize` ids.
    public func requireBytes(below vocabularySize: Int) throws {
        guard vocabularySize <= Int(UInt8.max) else { return }
        for split in Split.allCases {
            if let offset = bytes(of: split).firstIndex(where: { Int($0) >= vocabularySize }) {
                throw CorpusError.outsideVocabulary(path: path(of: split), byte: bytes(of: split)[offset], offset: offset, vocabularySize: vocabularySize)
            }
        }
    }

    public func bytes(of split: Split) -> [UInt8] {
        switch split {
        case .train: train
        case .valid: valid
        case .test: test
        }
    }

    /// Path of a split's file, for messages.
    public func path(of split: Split) -> String { folder.appendingPathComponent("\(split.rawValue).txt").path }

    /// Splits one text into train/valid/test by the first 90%, next 5% and last 5% of bytes
    /// (cut points rounded down) and writes the three files into `folder`.
    public static func write(splitting text: [UInt8], into folder: URL) throws {
        let n = text.count
        let firstCut = n * 90 / 100, secondCut = n * 95 / 100
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (split, range) in [(Split.train, 0..<firstCut), (.valid, firstCut..<secondCut), (.test, secondCut..<n)] {
            try writeAtomically(Data(text[range]), to: folder.appendingPathComponent("\(split.rawValue).txt"))
        }
    }
}

/// A batch of language-modelling windows: inputs and next-byte targets, both [batch, length].
public struct TokenBatch: Sendable {
    public let inputs: IndexTensor
    public let targets: [Int]

    public init(inputs: IndexTensor, targets: [Int]) {
        precondition(inputs.shape.count == 2 && targets.count == inputs.values.count,
                     "a batch of inputs \(inputs.shape) needs one target per input, got \(targets.count)")
        self.inputs = inputs
        self.targets = targets
    }
}

/// Draws training windows at random offsets and walks evaluation windows in order.
public enum WindowSampler {
    /// `batchSize` windows of `length` bytes at uniformly random offsets (the generator
    /// advances, so a saved generator state reproduces the same stream).
    public static func randomBatch(from bytes: [UInt8], batchSize: Int, length: Int,
                                   generator: inout RandomGenerator) -> TokenBatch {
        precondition(bytes.count > length + 1, "text of \(bytes.count) bytes is too short for windows of \(length)")
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(batchSize * length)
        targets.reserveCapacity(batchSize * length)
        for _ in 0..<batchSize {
            let offset = generator.nextInt(below: bytes.count - length - 1)
            for i in 0..<length {
                inputs.append(Int(bytes[offset + i]))
                targets.append(Int(bytes[offset + i + 1]))
            }
        }
        return TokenBatch(inputs: IndexTensor(inputs, shape: [batchSize, length]), targets: targets)
    }

    /// The first `count` non-overlapping windows of `length` (fewer if the text is shorter),
    /// grouped into batches of at most `batchSize`.
    public static func evaluationBatches(from bytes: [UInt8], windows count: Int, length: Int, batchSize: Int) -> [TokenBatch] {
        let available = Swift.min(count, (bytes.count - 1) / length)
        var batches: [TokenBatch] = []
        var window = 0
        while window < available {
            let size = Swift.min(batchSize, available - window)
            var inputs: [Int] = [], targets: [Int] = []
            for w in window..<(window + size) {
                let start = w * length
                for i in 0..<length {
                    inputs.append(Int(bytes[start + i]))
                    targets.append(Int(bytes[start + i + 1]))
                }
            }
            batches.append(TokenBatch(inputs: IndexTensor(inputs, shape: [size, length]), targets: targets))
            window += size
        }
        return batches
    }
}
