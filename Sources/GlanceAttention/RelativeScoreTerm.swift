import GlanceCore

/// A score term that depends on the query–key distance, added to the scaled scores of
/// ``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``
/// before the softmax: Transformer-XL's and Conformer's position term (q + v)·W_R·R, or
/// Adaptive Span's q·key_pe.
///
/// `scores` is [B or 1, H, Nq, R]: column c of query i holds the term for the distance
/// `largestDistance − c` (query position minus key position), the descending order of
/// ``RelativePositionEncoding``. With Nk keys the queries are the last Nq positions (query i
/// at position Nk − Nq + i). The kernel reads each (i, j)'s column through an index remap —
/// Transformer-XL's relative shift without the shifted matrix — and sends the gradient back
/// through the same remap.
public struct RelativeScoreTerm: @unchecked Sendable {
    /// [B or 1, H, Nq, R].
    public var scores: Tensor
    /// The distance of column 0.
    public var largestDistance: Int

    public init(scores: Tensor, largestDistance: Int) {
        precondition(scores.rank == 4, "a relative score term must be [batch or 1, heads, queries, distances], got \(scores.shape)")
        self.scores = scores
        self.largestDistance = largestDistance
    }

    /// The distance of the last column.
    public var smallestDistance: Int { largestDistance - scores.shape[3] + 1 }
}
