import GlanceAttention
import GlanceCore
import GlanceNN

/// Runs `blocks` as a reversible residual stack (Reformer): `input` is [batch, n, 2d], the
/// pair (x1, x2) side by side (a model duplicates its embeddings, as Hugging Face does), and
/// block i maps it to y1 = x1 + Attention_i(LN(x2)), y2 = x2 + FFN_i(LN(y1)) — the block's
/// ``TransformerBlock/attentionSublayer(_:mask:)`` and ``TransformerBlock/feedForwardSublayer(_:)``.
/// Returns [y1, y2], [batch, n, 2d].
///
/// No activation is stored (see ``reversibleResidualStack(_:layers:)``): the backward pass
/// rebuilds each block's inputs from its outputs and runs the block again. So that the rerun
/// computes the same function, it replays the dropout masks (the draws of `randomSource`, the
/// stream the blocks' dropout layers share) and the LSH sort orders of ``Reformer`` attention.
/// `storingActivations` computes the same function with an ordinary backward pass instead
/// (``storedResidualStack(_:layers:)``), for comparison.
public func reversibleTransformerStack(_ input: Tensor, blocks: [TransformerBlock], mask: AttentionMask,
                                       randomSource: RandomSource? = nil, storingActivations: Bool = false) -> Tensor {
    if storingActivations {
        let layers = blocks.map { block in
            ReversibleLayer(parameters: [], f: { block.attentionSublayer($0, mask: mask) }, g: { block.feedForwardSublayer($0) })
        }
        return storedResidualStack(input, layers: layers)
    }
    let layers = blocks.map { block in
        let sortCache = (block.attention as? Reformer).map { _ in LSHSortCache() }
        return ReversibleLayer(
            parameters: block.namedParameters().map(\.parameter.value),
            f: replayingRandomDraws(of: randomSource) { x in
                guard let sortCache, let reformer = block.attention as? Reformer else { return block.attentionSublayer(x, mask: mask) }
                reformer.attention.sortCache = sortCache
                defer { reformer.attention.sortCache = nil }
                return block.attentionSublayer(x, mask: mask)
            },
            g: replayingRandomDraws(of: randomSource) { block.feedForwardSublayer($0) })
    }
    return reversibleResidualStack(input, layers: layers)
}

/// `body`, such that every call after the first draws the same numbers from `source` as the
/// first did (and leaves `source` where it was).
private func replayingRandomDraws(of source: RandomSource?, _ body: @escaping (Tensor) -> Tensor) -> (Tensor) -> Tensor {
    guard let source else { return body }
    var firstState: RandomGenerator? = nil
    return { x in
        guard let state = firstState else {
            firstState = source.generator
            return body(x)
        }
        let current = source.generator
        source.generator = state
        defer { source.generator = current }
        return body(x)
    }
}
