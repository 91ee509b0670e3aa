import GlanceCore

extension Tensor {
    /// Queries [batch, length, heads·d] (heads side by side) plus a per-head bias [heads, d]
    /// (Transformer-XL's u and v).
    func addingPerHead(_ bias: Tensor) -> Tensor {
        precondition(rank == 3 && bias.rank == 2 && bias.count == shape[2],
                     "a per-head bias for \(shape) must be [heads, \(shape[2]) / heads], got \(bias.shape)")
        return self + bias.reshaped(to: [1, 1, shape[2]])
    }
}

/// The position term of relative attention (q + v)·Kᵀ per head, ready for the factored
/// ``RelativeScoreTerm``: `queries` [batch, length, heads·d], `bias` v [heads, d],
/// `positionKeys` [distances, heads·d] (the projected distance encodings W·R). The kernel
/// computes the entries block by block; nothing of size length × distances is stored.
func relativePositionTerm(queries: Tensor, bias: Tensor, positionKeys: Tensor, scale: Float, largestDistance: Int) -> RelativeScoreTerm {
    RelativeScoreTerm(positionQueries: queries.addingPerHead(bias), positionKeys: positionKeys, scale: scale, largestDistance: largestDistance)
}

/// The same term stored, [batch, heads, length, distances] (one product per head), for a
/// caller that must change entries before the kernel reads them (Transformer-XL's
/// `same_length` hides the far distances).
func relativePositionScores(_ term: RelativeScoreTerm, heads: Int) -> Tensor {
    guard case .factored(let queries, let positionKeys, let scale) = term.values else {
        preconditionFailure("relativePositionScores needs a factored term")
    }
    let (batch, length, width) = (queries.shape[0], queries.shape[1], queries.shape[2])
    let (distances, size) = (positionKeys.shape[0], width / heads)
    let keys = positionKeys.reshaped(to: [distances, heads, size]).permuted([1, 0, 2])
    let perHead = queries.reshaped(to: [batch * length, heads, size]).permuted([1, 0, 2])
    return (perHead.matmul(keys, transposeOther: true) * scale).reshaped(to: [heads, batch, length, distances]).permuted([1, 0, 2, 3])
}
