import GlanceCore

/// Training batches of utterances of similar lengths: the examples sorted by length are cut
/// into consecutive buckets of one batch each, and every epoch visits the buckets in a new
/// seeded random order. Padding stays small while every batch still mixes nothing but
/// neighbours in length. Codable: the generator and the position resume exactly.
public struct LengthBucketedBatches: Codable, Sendable, Equatable {
    public private(set) var generator: RandomGenerator
    /// This epoch's bucket order and how far it has got.
    public private(set) var order: [Int] = []
    public private(set) var position = 0
    /// Epochs started so far.
    public private(set) var epoch = 0

    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// The example indices of the next batch of at most `size` examples, where `byLength` lists
    /// every example index from shortest to longest (the same list at every call).
    public mutating func next(size: Int, byLength: [Int]) -> [Int] {
        precondition(size >= 1 && !byLength.isEmpty, "length-bucketed batches of \(size) from \(byLength.count) examples")
        let buckets = (byLength.count + size - 1) / size
        if position == order.count {
            order = Array(0..<buckets)
            order.shuffle(using: &generator)
            position = 0
            epoch += 1
        }
        precondition(order.count == buckets, "the batches were cut into \(order.count) buckets; \(size) examples each make \(buckets)")
        let start = order[position] * size
        position += 1
        return Array(byLength[start..<Swift.min(start + size, byLength.count)])
    }
}
