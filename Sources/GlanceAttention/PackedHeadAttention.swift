import GlanceCore

/// Exact multi-head self-attention on the output of one fused projection: `projections`
/// [B, N, 3·H·D] holds each position's queries, keys and values side by side (heads side
/// by side within each), as ``fusedProjection(_:_:)`` of the query, key and value layers
/// gives. Returns [B, N, H·D], heads side by side, ready for the output projection.
///
/// The kernel of ``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``
/// reads the heads in place through BLAS leading dimensions and writes the output the same
/// way, so no head is split or merged by a copy; the gradient comes back in the same packing.
public func packedSelfAttention(_ projections: Tensor, heads: Int, causal: Bool = false, keyPadding: [[Bool]]? = nil,
                                scale: Float? = nil) -> Tensor {
    precondition(projections.rank == 3 && projections.shape[2] % (3 * heads) == 0,
                 "packed self-attention expects [batch, length, 3 × \(heads) heads × depth], got \(projections.shape)")
    let (batch, length, width) = (projections.shape[0], projections.shape[1], projections.shape[2] / 3)
    func section(_ index: Int) -> AttentionOperand {
        AttentionOperand(input: 0, layout: .packed(rows: length, rowWidth: 3 * width, width: width / heads, offset: index * width))
    }
    return packedAttention(inputs: [projections], queries: section(0), keys: section(1), values: section(2),
                           batch: batch, heads: heads, queryCount: length, keyCount: length, width: width,
                           causal: causal, keyPadding: keyPadding, scale: scale)
}

/// Exact multi-head attention of `queries` [B, Nq, H·D] to `keysAndValues` [B, Nk, 2·H·D]
/// (each key position's keys, then its values, heads side by side): cross-attention, or
/// attention over [memory; input] with the queries the last Nq positions. Returns
/// [B, Nq, H·D]; no head is split or merged by a copy (see ``packedSelfAttention(_:heads:causal:keyPadding:scale:)``).
/// `relativeScores` adds a distance-indexed term to the scaled scores, as in
/// ``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``.
public func packedAttention(queries: Tensor, keysAndValues: Tensor, heads: Int, causal: Bool = false, keyPadding: [[Bool]]? = nil,
                            scale: Float? = nil, relativeScores: RelativeScoreTerm? = nil) -> Tensor {
    precondition(queries.rank == 3 && queries.shape[2] % heads == 0,
                 "packed attention expects queries [batch, length, \(heads) heads × depth], got \(queries.shape)")
    let (batch, queryCount, width) = (queries.shape[0], queries.shape[1], queries.shape[2])
    precondition(keysAndValues.rank == 3 && keysAndValues.shape[0] == batch && keysAndValues.shape[2] == 2 * width,
                 "packed attention expects keys and values [\(batch), length, \(2 * width)] for queries \(queries.shape), got \(keysAndValues.shape)")
    let keyCount = keysAndValues.shape[1]
    func section(_ index: Int) -> AttentionOperand {
        AttentionOperand(input: 1, layout: .packed(rows: keyCount, rowWidth: 2 * width, width: width / heads, offset: index * width))
    }
    return packedAttention(inputs: [queries, keysAndValues],
                           queries: AttentionOperand(input: 0, layout: .packed(rows: queryCount, rowWidth: width, width: width / heads, offset: 0)),
                           keys: section(0), values: section(1), batch: batch, heads: heads, queryCount: queryCount, keyCount: keyCount,
                           width: width, causal: causal, keyPadding: keyPadding, scale: scale, relativeScores: relativeScores)
}

/// The exact attention op with heads of `width / heads` columns and the output packed as [B, Nq, width].
private func packedAttention(inputs: [Tensor], queries: AttentionOperand, keys: AttentionOperand, values: AttentionOperand,
                             batch: Int, heads: Int, queryCount: Int, keyCount: Int, width: Int,
                             causal: Bool, keyPadding: [[Bool]]?, scale: Float?, relativeScores: RelativeScoreTerm? = nil) -> Tensor {
    let depth = width / heads
    let geometry = AttentionGeometry(batch: batch, heads: heads, queries: queryCount, keys: keyCount,
                                     depth: depth, valueDepth: depth, causal: causal)
    return exactAttention(inputs: inputs, queries: queries, keys: keys, values: values, geometry: geometry,
                          output: (shape: [batch, queryCount, width], layout: .packed(rows: queryCount, rowWidth: width, width: depth, offset: 0)),
                          keyPadding: keyPadding, scale: scale ?? 1 / Float(depth).squareRoot(),
                          relativeScores: relativeScores, postSoftmaxMask: nil)
}
