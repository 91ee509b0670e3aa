import GlanceCore

/// How adaptive input embeddings and the adaptive softmax (Baevski & Auli 2019; Grave et al.
/// 2017) split a vocabulary: ids `0..<cutoffs[0]` form the head cluster, then one tail cluster
/// per further cutoff, the last ending at the vocabulary size. With `divisor` (Transformer-XL's
/// `div_val`) above 1 cluster i has its own vectors of width `embeddingDimensions / divisor^i`;
/// with 1 every cluster shares one table of width `embeddingDimensions`.
public struct AdaptiveVocabulary: Sendable, Equatable {
    public let size: Int
    /// The ids where clusters start, after the head (Hugging Face's `cutoffs`, without the size).
    public let cutoffs: [Int]
    /// `div_val`.
    public let divisor: Int
    /// Width of the head cluster's vectors (`d_embed`).
    public let embeddingDimensions: Int

    /// Throws an ``AdaptiveVocabularyError`` naming the field (`vocab_size`, `cutoffs`,
    /// `div_val`, `d_embed`) when the split cannot work.
    public init(size: Int, cutoffs: [Int], divisor: Int, embeddingDimensions: Int) throws {
        guard size >= 1 else { throw AdaptiveVocabularyError(field: "vocab_size", reason: "must be at least 1, got \(size)") }
        guard embeddingDimensions >= 1 else {
            throw AdaptiveVocabularyError(field: "d_embed", reason: "must be at least 1, got \(embeddingDimensions)")
        }
        guard divisor >= 1 else { throw AdaptiveVocabularyError(field: "div_val", reason: "must be at least 1, got \(divisor)") }
        for (index, cutoff) in cutoffs.enumerated() {
            let previous = index == 0 ? 0 : cutoffs[index - 1]
            guard cutoff > previous else {
                throw AdaptiveVocabularyError(field: "cutoffs", reason: "must increase strictly from above 0, got \(cutoffs)")
            }
            guard cutoff < size else {
                throw AdaptiveVocabularyError(field: "cutoffs", reason: "must lie below vocab_size (\(size)), got \(cutoffs)")
            }
        }
        (self.size, self.cutoffs, self.divisor, self.embeddingDimensions) = (size, cutoffs, divisor, embeddingDimensions)
        if divisor > 1, let last = clusters.indices.last, width(ofCluster: last) < 1 {
            throw AdaptiveVocabularyError(field: "div_val", reason: "\(divisor) leaves cluster \(last) of d_embed \(embeddingDimensions) no width "
                                          + "(d_embed / div_val^\(last) < 1)")
        }
    }

    /// The ids of each cluster: the head, then the tails.
    public var clusters: [Range<Int>] {
        let bounds = [0] + cutoffs + [size]
        return (0..<bounds.count - 1).map { bounds[$0]..<bounds[$0 + 1] }
    }

    /// Number of tail clusters (the head scores one entry per tail).
    public var tailCount: Int { cutoffs.count }

    /// The width of cluster `index`'s vectors: `embeddingDimensions / divisor^index` (integer division).
    public func width(ofCluster index: Int) -> Int {
        divisor == 1 ? embeddingDimensions : (0..<index).reduce(embeddingDimensions) { width, _ in width / divisor }
    }

    /// The cluster of each id, and its index inside that cluster.
    func locate(_ ids: [Int]) -> [(cluster: Int, local: Int)] {
        let ranges = clusters
        return ids.map { id in
            precondition(id >= 0 && id < size, "token id \(id) is outside the vocabulary 0..<\(size)")
            let cluster = ranges.firstIndex { $0.contains(id) }!
            return (cluster, id - ranges[cluster].lowerBound)
        }
    }

    /// The positions of `ids` grouped by cluster (in order), with their ids inside the cluster.
    func grouped(_ ids: [Int]) -> [(positions: [Int], local: [Int])] {
        var groups = [(positions: [Int], local: [Int])](repeating: ([], []), count: clusters.count)
        for (position, place) in locate(ids).enumerated() {
            groups[place.cluster].positions.append(position)
            groups[place.cluster].local.append(place.local)
        }
        return groups
    }
}

/// An adaptive vocabulary that cannot work; `field` is Hugging Face's name for it.
public struct AdaptiveVocabularyError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        (self.field, self.reason) = (field, reason)
    }

    public var description: String { "'\(field)' \(reason)" }
}

/// The rows of `parts` (each [k_i, width], their rows standing for the positions of
/// `groups[i]`) put back in position order: [Σ k_i, width].
func reassembled(_ parts: [Tensor], groups: [(positions: [Int], local: [Int])]) -> Tensor {
    let order = groups.flatMap(\.positions)
    var inverse = [Int](repeating: 0, count: order.count)
    for (row, position) in order.enumerated() { inverse[position] = row }
    let stacked = parts.count == 1 ? parts[0] : concatenate(parts, alongAxis: 0)
    return inverse == Array(inverse.indices) ? stacked : stacked.embeddingLookup(IndexTensor(inverse))
}
