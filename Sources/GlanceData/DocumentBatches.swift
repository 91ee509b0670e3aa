import GlanceCore

/// A batch of documents cut or padded to one length: byte ids [batch, length] (padding
/// bytes are 0), the key-padding mask (`true` for a real byte) and the class labels.
public struct DocumentBatch: Sendable {
    public let inputs: IndexTensor
    public let keyPadding: [[Bool]]
    public let labels: [Int]

    /// Keeps the first `length` bytes of each document and pads shorter ones.
    public init<Documents: Collection<LabelledDocument>>(_ documents: Documents, length: Int) {
        precondition(length >= 1, "documents must be cut to at least 1 byte, got \(length)")
        var ids = [Int](repeating: 0, count: documents.count * length)
        var keyPadding: [[Bool]] = []
        for (row, document) in documents.enumerated() {
            let used = Swift.min(document.bytes.count, length)
            for i in 0..<used { ids[row * length + i] = Int(document.bytes[i]) }
            keyPadding.append([Bool](repeating: true, count: used) + [Bool](repeating: false, count: length - used))
        }
        inputs = IndexTensor(ids, shape: [documents.count, length])
        self.keyPadding = keyPadding
        labels = documents.map(\.label)
    }
}

/// Training batches that walk the documents in a fresh seeded random order each epoch:
/// every document appears once per epoch; the last batch of an epoch may be smaller. The
/// state (generator, order, position) is plain data, so a saved copy replays the stream.
public struct ShuffledDocumentBatches: Codable, Sendable, Equatable {
    public private(set) var generator: RandomGenerator
    public private(set) var order: [Int] = []
    public private(set) var position = 0
    /// Epochs started so far.
    public private(set) var epoch = 0
    public let documentCount: Int

    public init(documentCount: Int, seed: UInt64) {
        precondition(documentCount >= 1, "no documents to draw batches from")
        self.documentCount = documentCount
        generator = RandomGenerator(seed: seed)
    }

    enum CodingKeys: String, CodingKey { case generator, order, position, epoch, documentCount }

    /// Decodes a saved state, checking that it can continue: at least one document, an order
    /// that is empty or a permutation of the documents, a position inside it, an epoch ≥ 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func invalid(_ key: CodingKeys, _ reason: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: reason)
        }
        generator = try container.decode(RandomGenerator.self, forKey: .generator)
        documentCount = try container.decode(Int.self, forKey: .documentCount)
        guard (1..<(1 << 40)).contains(documentCount) else { throw invalid(.documentCount, "must be in 1..<2^40, got \(documentCount)") }
        order = try container.decode([Int].self, forKey: .order)
        guard order.isEmpty || (order.count == documentCount && Set(order) == Set(0..<documentCount)) else {
            throw invalid(.order, "must be empty or an order of the \(documentCount) documents")
        }
        position = try container.decode(Int.self, forKey: .position)
        guard (0...order.count).contains(position) else { throw invalid(.position, "must be in 0...\(order.count), got \(position)") }
        epoch = try container.decode(Int.self, forKey: .epoch)
        guard (0..<(1 << 62)).contains(epoch) else { throw invalid(.epoch, "must be in 0..<2^62, got \(epoch)") }
    }

    /// The indices of the next batch of at most `size` documents.
    public mutating func nextIndices(size: Int) -> [Int] {
        precondition(size >= 1, "batch size must be at least 1, got \(size)")
        if position == order.count {
            order = Array(0..<documentCount)
            order.shuffle(using: &generator)
            position = 0
            epoch += 1
        }
        let end = Swift.min(position + size, order.count)
        defer { position = end }
        return Array(order[position..<end])
    }

    /// The next batch of `documents` (which must hold `documentCount` documents).
    public mutating func next(from documents: [LabelledDocument], size: Int, length: Int) -> DocumentBatch {
        precondition(documents.count == documentCount, "batches were set up for \(documentCount) documents, got \(documents.count)")
        return DocumentBatch(nextIndices(size: size).map { documents[$0] }, length: length)
    }
}
