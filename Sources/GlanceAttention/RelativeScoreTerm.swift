import GlanceCore

/// A score term that depends on the query–key distance, added to the scaled scores of
/// ``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``
/// before the softmax: Transformer-XL's and Conformer's position term (q + v)·W_R·R, or
/// Adaptive Span's q·key_pe.
///
/// Its R columns hold the distances `largestDistance` down to `largestDistance − R + 1`
/// (query position minus key position), the descending order of ``RelativePositionEncoding``.
/// With Nk keys the queries are the last Nq positions (query i at position Nk − Nq + i). The
/// kernel reads each (i, j)'s column through an index remap — Transformer-XL's relative shift
/// without the shifted matrix — and sends the gradient back through the same remap.
public struct RelativeScoreTerm: @unchecked Sendable {
    /// Where the term's values come from.
    public enum Values {
        /// Stored: [B or 1, H, Nq, R].
        case scores(Tensor)
        /// A per-head product, scale · q_i·k_c: position queries [B, Nq, H·D] and position keys
        /// [R, H·D] (heads side by side). The kernel computes the entries a block of queries
        /// sees, block by block, forward and backward: nothing of size Nq × R is stored.
        case factored(queries: Tensor, keys: Tensor, scale: Float)
    }

    public var values: Values
    /// The distance of column 0.
    public var largestDistance: Int

    /// A stored term, `scores` [B or 1, H, Nq, R].
    public init(scores: Tensor, largestDistance: Int) {
        precondition(scores.rank == 4, "a relative score term must be [batch or 1, heads, queries, distances], got \(scores.shape)")
        self.init(values: .scores(scores), largestDistance: largestDistance)
    }

    /// The term scale · queries_i·keys_c per head, computed inside the kernel: `queries`
    /// [B, Nq, H·D] (Transformer-XL's q + v), `keys` [R, H·D] (the projected encodings W_R·R).
    public init(positionQueries queries: Tensor, positionKeys keys: Tensor, scale: Float, largestDistance: Int) {
        precondition(queries.rank == 3 && keys.rank == 2 && keys.shape[1] == queries.shape[2],
                     "a factored relative score term needs queries [batch, queries, width] and keys [distances, width], got \(queries.shape) and \(keys.shape)")
        self.init(values: .factored(queries: queries, keys: keys, scale: scale), largestDistance: largestDistance)
    }

    private init(values: Values, largestDistance: Int) {
        self.values = values
        self.largestDistance = largestDistance
    }

    /// R, the number of distances.
    public var distanceCount: Int {
        switch values {
        case .scores(let scores): scores.shape[3]
        case .factored(_, let keys, _): keys.shape[0]
        }
    }

    /// The distance of the last column.
    public var smallestDistance: Int { largestDistance - distanceCount + 1 }

    /// The tensors gradients reach, in order: the scores, or the position queries and keys.
    var tensors: [Tensor] {
        switch values {
        case .scores(let scores): [scores]
        case .factored(let queries, let keys, _): [queries, keys]
        }
    }

    /// The same term on detached copies of ``tensors``.
    func detached() -> RelativeScoreTerm {
        switch values {
        case .scores(let scores): RelativeScoreTerm(values: .scores(scores.detached()), largestDistance: largestDistance)
        case .factored(let queries, let keys, let scale):
            RelativeScoreTerm(values: .factored(queries: queries.detached(), keys: keys.detached(), scale: scale), largestDistance: largestDistance)
        }
    }
}
