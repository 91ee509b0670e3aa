/// Floating-point operations of relative-position attention, scores
/// ((q + u)·k + (q + v)·W_R·r_{i−j}) / √d, over `distances` encodings of width `modelDimensions`
/// projected to `width` = heads·headDimensions: the encoder's 2T − 1 scheme
/// (``RelativePositionSelfAttention``: `distances` = 2·length − 1, no memory) and
/// Transformer-XL's (``RelativeMultiHeadAttention``: `distances` = length + memory).
///
/// - Projections: queries over the `length` rows, keys and values over length + memory rows,
///   the output over `length` rows; the position keys W_R·R once per call (not per batch
///   entry). Backward: every weight's gradient, the input gradient of the query, key, value
///   and output products for the `length` input rows only (the memory and R are constants,
///   so W_R·R takes its weight gradient alone).
/// - Per visible query–key pair (causal: pairs at or below the diagonal, the memory
///   included), three products of 2·width each forward — content scores, position scores,
///   weighted values — and eight backward: the two score products recomputed block by block,
///   then dV, dP, dQ and dK for the content term and dQ and d(W_R·R) for the position term.
public func relativePositionAttentionFlops(_ workload: AttentionWorkload, modelDimensions: Int, width: Int, distances: Int) -> LayerFlops {
    let (batch, n, memory) = (Double(workload.batch), Double(workload.length), Double(workload.memory))
    let projection = 2 * Double(modelDimensions) * Double(width)
    let (queryRows, keyRows) = (batch * n, batch * (n + memory))
    let forwardProjections = projection * (2 * queryRows + 2 * keyRows + Double(distances))
    // Weight gradients repeat every forward product; input gradients for the input rows only.
    let backwardProjections = forwardProjections + projection * (4 * queryRows)
    let pairs = batch * (workload.causal ? n * (n + 1) / 2 + n * memory : n * (n + memory))
    let product = 2 * pairs * Double(width)
    return LayerFlops(forward: forwardProjections + 3 * product,
                      forwardAndBackward: forwardProjections + backwardProjections + 11 * product)
}

extension RelativeMultiHeadAttention: AttentionFlopCounting {
    /// ``relativePositionAttentionFlops(_:modelDimensions:width:distances:)`` over the
    /// length + memory distances, causal with the memory.
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        var causalWorkload = workload
        causalWorkload.causal = true
        return relativePositionAttentionFlops(causalWorkload, modelDimensions: modelDimensions, width: heads * headDimensions,
                                              distances: workload.length + workload.memory)
    }
}

extension RelativePositionSelfAttention: AttentionFlopCounting {
    /// ``relativePositionAttentionFlops(_:modelDimensions:width:distances:)`` over the
    /// encoder's 2·length − 1 distances.
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        relativePositionAttentionFlops(workload, modelDimensions: modelDimensions, width: modelDimensions,
                                       distances: 2 * workload.length - 1)
    }
}
