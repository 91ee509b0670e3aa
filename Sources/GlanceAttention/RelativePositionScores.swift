import GlanceCore

extension Tensor {
    /// Queries [batch, heads, length, d] plus a per-head bias [heads, d] (Transformer-XL's u and v).
    func addingPerHead(_ bias: Tensor) -> Tensor {
        precondition(rank == 4 && bias.shape == [shape[1], shape[3]], "a per-head bias for \(shape) must be [\(shape[1]), \(shape[3])], got \(bias.shape)")
        return self + bias.reshaped(to: [1, shape[1], 1, shape[3]])
    }
}

/// The position term of relative attention before scaling, (q + bias)·Kᵀ per head:
/// `queries` [batch, heads, length, d], `bias` [heads, d], `positionKeys` [distances, heads·d]
/// (the projected distance encodings, W·R) → [batch, heads, length, distances], one product
/// per head; ready for a ``RelativeScoreTerm``.
func relativePositionScores(queries: Tensor, bias: Tensor, positionKeys: Tensor) -> Tensor {
    let (batch, heads, length, size) = (queries.shape[0], queries.shape[1], queries.shape[2], queries.shape[3])
    let distances = positionKeys.shape[0]
    precondition(positionKeys.shape == [distances, heads * size], "position keys must be [distances, \(heads * size)], got \(positionKeys.shape)")
    let keys = positionKeys.reshaped(to: [distances, heads, size]).permuted([1, 0, 2])
    let shifted = queries.addingPerHead(bias).permuted([1, 0, 2, 3]).reshaped(to: [heads, batch * length, size])
    return shifted.matmul(keys, transposeOther: true).reshaped(to: [heads, batch, length, distances]).permuted([1, 0, 2, 3])
}
