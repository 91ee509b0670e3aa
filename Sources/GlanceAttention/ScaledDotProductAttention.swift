import GlanceCore

/// Exact softmax attention softmax(Q·Kᵀ·scale + mask)·V for q [B, H, Nq, D], k and v
/// [B, H, Nk, D], with a fused, blocked forward and a hand-written backward.
///
/// Nothing quadratic is stored (see ``AttentionGeometry``): the forward streams key blocks
/// through an online softmax and keeps only the output and each query row's log-sum-exp;
/// the backward recomputes the scores block by block. With causal masking blocks skip the
/// keys they cannot see. `keyPadding[b][j] == false` hides key j of batch entry b.
///
/// With more keys than queries, the queries are the last Nq of the Nk positions (the first
/// M = Nk − Nq keys are a memory): under causal masking query i sees keys 0 … M + i.
/// `relativeScores` adds a distance-indexed term to the scaled scores before the softmax,
/// `postSoftmaxMask` weighs and renormalises the probabilities after it (Adaptive Span);
/// gradients reach both. Their costs, all linear in the scores next to the D-deep products:
/// the term adds one vector add per score row forward and twice backward, and a B·H·Nq·R
/// gradient buffer; the mask one multiply pass per row forward, three backward (p′ is rebuilt
/// from p and the B·H·Nq stored normalizers) and a B·H·R gradient buffer. A factored term
/// (``RelativeScoreTerm/Values/factored(queries:keys:scale:)``) stores no such buffer: one
/// product per query block computes its band of the term forward, and the backward rebuilds
/// the bands of a head and sends their gradient back with two products more (see ``PositionTermBand``).
public func scaledDotProductAttention(queries q: Tensor, keys k: Tensor, values v: Tensor,
                                      causal: Bool = false, keyPadding: [[Bool]]? = nil, scale: Float? = nil,
                                      relativeScores: RelativeScoreTerm? = nil, postSoftmaxMask: PostSoftmaxMask? = nil) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention expects [B, H, N, D] tensors, got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, heads, queryCount, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let keyCount = k.shape[2], valueDepth = v.shape[3]
    precondition(k.shape == [batch, heads, keyCount, depth] && v.shape == [batch, heads, keyCount, valueDepth],
                 "attention shapes disagree: q \(q.shape), k \(k.shape), v \(v.shape)")
    let geometry = AttentionGeometry(batch: batch, heads: heads, queries: queryCount, keys: keyCount,
                                     depth: depth, valueDepth: valueDepth, causal: causal)
    return exactAttention(inputs: [q, k, v],
                          queries: AttentionOperand(input: 0, layout: .headMajor(heads: heads, rows: queryCount, width: depth)),
                          keys: AttentionOperand(input: 1, layout: .headMajor(heads: heads, rows: keyCount, width: depth)),
                          values: AttentionOperand(input: 2, layout: .headMajor(heads: heads, rows: keyCount, width: valueDepth)),
                          geometry: geometry, output: (shape: [batch, heads, queryCount, valueDepth],
                                                       layout: .headMajor(heads: heads, rows: queryCount, width: valueDepth)),
                          keyPadding: keyPadding, scale: scale ?? 1 / Float(depth).squareRoot(),
                          relativeScores: relativeScores, postSoftmaxMask: postSoftmaxMask)
}

/// One of the queries, keys or values of ``exactAttention``: the index of the input tensor
/// that holds it and where its heads lie there.
struct AttentionOperand {
    let input: Int
    let layout: HeadLayout
}

/// The exact attention op on operands read through their layouts from `inputs` (distinct
/// tensors: queries, keys and values may share one), writing an output of `output.shape`
/// through `output.layout`. Gradients reach each input (every operand's columns of it) and
/// the score term and mask.
func exactAttention(inputs: [Tensor], queries: AttentionOperand, keys: AttentionOperand, values: AttentionOperand,
                    geometry: AttentionGeometry, output outputPlacement: (shape: [Int], layout: HeadLayout),
                    keyPadding: [[Bool]]?, scale: Float,
                    relativeScores: RelativeScoreTerm?, postSoftmaxMask: PostSoftmaxMask?) -> Tensor {
    let (batch, heads, queryCount, keyCount) = (geometry.batch, geometry.heads, geometry.queries, geometry.keys)
    precondition(!geometry.causal || queryCount <= keyCount,
                 "causal attention needs at least as many keys as queries (the queries are the last positions), got \(queryCount) queries and \(keyCount) keys")
    if let keyPadding {
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == keyCount },
                     "key padding mask must be \(batch) × \(keyCount)")
    }
    if let relativeScores {
        switch relativeScores.values {
        case .scores(let scores):
            let shape = scores.shape
            precondition((shape[0] == batch || shape[0] == 1) && shape[1] == heads && shape[2] == queryCount,
                         "relative scores \(shape) do not fit \(batch) × \(heads) heads × \(queryCount) queries")
        case .factored(let positionQueries, _, _):
            let shape = positionQueries.shape
            precondition(shape[0] == batch && shape[1] == queryCount && shape[2] % heads == 0,
                         "position queries \(shape) do not fit \(batch) × \(queryCount) queries × \(heads) heads")
        }
        requireDistances(of: "relative score term", largestDistance: relativeScores.largestDistance, columns: relativeScores.distanceCount,
                         geometry: geometry)
    }
    if let postSoftmaxMask {
        let shape = postSoftmaxMask.weights.shape
        precondition(shape[0] == heads, "post-softmax mask weights \(shape) do not fit \(heads) heads")
        requireDistances(of: "post-softmax mask", largestDistance: postSoftmaxMask.largestDistance, columns: shape[1], geometry: geometry)
    }
    let padding = keyPadding.map { rows in rows.map { row in row.map { $0 ? Float(0) : -Float.infinity } } }
    let extras = (relativeScores?.tensors ?? []) + [postSoftmaxMask?.weights].compactMap { $0 }
    // Row statistics are kept only when a backward pass will need them.
    let recording = GradientMode.isRecording && (inputs + extras).contains { $0.requiresGradient }
    let rowCount = batch * heads * queryCount
    let logSumExp = TensorStorage(count: recording ? rowCount : 0)
    let normalizers = TensorStorage(count: recording && postSoftmaxMask != nil ? rowCount : 0)
    func statistics() -> AttentionRowStatistics {
        AttentionRowStatistics(logSumExp: logSumExp.pointer, normalizers: postSoftmaxMask == nil ? nil : normalizers.pointer)
    }
    func rows(_ operand: AttentionOperand, _ bases: [UnsafeMutablePointer<Float>]) -> HeadRows {
        HeadRows(base: bases[operand.input], layout: operand.layout, heads: heads)
    }
    let output = Tensor(shape: outputPlacement.shape) { out in
        withBasePointers(inputs) { bases in
            withDistanceRows(relativeScores, postSoftmaxMask, geometry) { terms in
                geometry.forward(q: rows(queries, bases), k: rows(keys, bases), v: rows(values, bases),
                                 output: HeadRows(base: out.baseAddress!, layout: outputPlacement.layout, heads: heads),
                                 scale: scale, padding: padding, rows: terms, statistics: recording ? statistics() : nil)
            }
        }
    }
    guard recording else { return output }
    let (savedInputs, outputValue) = (inputs.map { $0.detached() }, output)
    let (termValues, maskValues) = (relativeScores?.detached(),
                                    postSoftmaxMask.map { PostSoftmaxMask(weights: $0.weights.detached(), largestDistance: $0.largestDistance) })
    return output.recorded(from: inputs + extras) { g in
        let termGradients = DistanceTermGradients(relativeScores: termValues, postSoftmaxMask: maskValues, geometry: geometry)
        // Fresh zeros, uniquely owned here: the kernel adds every operand's gradient into them.
        let inputGradients = savedInputs.map { Tensor.zeros($0.shape) }
        withBasePointers(savedInputs + [outputValue, g] + inputGradients) { bases in
            let gradientBases = Array(bases.suffix(inputGradients.count))
            withDistanceRows(termValues, maskValues, geometry) { terms in
                geometry.backward(q: rows(queries, bases), k: rows(keys, bases), v: rows(values, bases),
                                  output: HeadRows(base: bases[savedInputs.count], layout: outputPlacement.layout, heads: heads),
                                  outputGradient: HeadRows(base: bases[savedInputs.count + 1], layout: outputPlacement.layout, heads: heads),
                                  statistics: statistics(), scale: scale, padding: padding, rows: terms, gradientRows: termGradients.rows,
                                  dq: rows(queries, gradientBases), dk: rows(keys, gradientBases), dv: rows(values, gradientBases))
            }
        }
        return inputGradients + termGradients.tensors()
    }
}

/// Calls `body` with the base addresses of `tensors`, valid only inside `body`.
private func withBasePointers<R>(_ tensors: [Tensor], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
    guard let first = tensors.first else { return body([]) }
    return first.withUnsafeBufferPointer { buffer in
        withBasePointers(Array(tensors.dropFirst())) { body([UnsafeMutablePointer(mutating: buffer.baseAddress!)] + $0) }
    }
}
