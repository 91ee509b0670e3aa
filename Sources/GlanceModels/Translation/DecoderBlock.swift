import GlanceAttention
import GlanceCore
import GlanceNN

/// A Transformer decoder layer (Vaswani et al. 2017; PyTorch's `nn.TransformerDecoderLayer`):
/// causal self-attention, cross-attention to the encoder's output, feed-forward, each with a
/// residual and dropout. Pre-LN: x + Dropout(Sublayer(LN(x))) for each sublayer; post-LN:
/// LN(x + Dropout(Sublayer(x))). The self-attention is any mechanism that decodes
/// incrementally: full attention, or Lite Transformer's long-short range attention (the
/// attention branch causal, the convolution looking back only), which makes this layer Lite
/// Transformer's decoder layer.
///
/// ``forward(_:source:)`` runs whole target sequences (teacher forcing);
/// ``forward(_:cache:)`` runs one new position per row against a ``DecoderLayerCache`` that
/// holds the self-attention's cache of the earlier positions and the source's projected keys
/// and values, so that each step costs one position.
public final class DecoderBlock: Module {
    public let selfAttentionNorm: LayerNorm
    public let selfAttention: any AttentionMechanism
    public let selfAttentionDropout: Dropout
    public let crossAttentionNorm: LayerNorm
    public let crossAttention: FullAttention
    public let crossAttentionDropout: Dropout
    public let feedForwardNorm: LayerNorm
    public let feedForward: FeedForward
    public let feedForwardDropout: Dropout
    public let normalization: BlockNormalization

    public init(selfAttention: any AttentionMechanism, crossAttention: FullAttention, feedForward: FeedForward, dropout: Float,
                source: RandomSource, normalization: BlockNormalization) {
        precondition(selfAttention.modelDimensions == crossAttention.modelDimensions, "the decoder's attentions must have one width")
        let width = selfAttention.modelDimensions
        (self.selfAttention, self.crossAttention, self.feedForward, self.normalization) = (selfAttention, crossAttention, feedForward, normalization)
        selfAttentionNorm = LayerNorm(dimensions: width)
        crossAttentionNorm = LayerNorm(dimensions: width)
        feedForwardNorm = LayerNorm(dimensions: width)
        selfAttentionDropout = Dropout(probability: dropout, source: source)
        crossAttentionDropout = Dropout(probability: dropout, source: source)
        feedForwardDropout = Dropout(probability: dropout, source: source)
        super.init()
    }

    /// Hidden states [batch, targetLength, d] of the target inputs `x` (each position sees
    /// itself and earlier ones) attending to the encoder's output `source`.
    public func forward(_ x: Tensor, source: EncodedSource) -> Tensor {
        let crossContext = AttentionContext(source: source.states, sourcePadding: source.padding)
        return sublayers(x,
                         selfAttention: { self.selfAttention.attend($0, context: AttentionContext(mask: .causal)).output },
                         crossAttention: { self.crossAttention.attend($0, context: crossContext).output })
    }

    /// The hidden state [batch, 1, d] of the next position of each row, after the positions
    /// `cache` holds, which then holds this one too. Inference only.
    public func forward(_ x: Tensor, cache: DecoderLayerCache) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == 1, "incremental decoding takes one position per row, got \(x.shape)")
        let selfContext = AttentionContext(mask: .causal, cache: cache.selfAttention)
        return sublayers(x, selfAttention: { self.selfAttention.attend($0, context: selfContext).output },
                         crossAttention: { self.attendToSource($0, cache: cache) })
    }

    /// The three residual sublayers around the given attentions.
    private func sublayers(_ x: Tensor, selfAttention: (Tensor) -> Tensor, crossAttention: (Tensor) -> Tensor) -> Tensor {
        let attended = residual(x, norm: selfAttentionNorm, dropout: selfAttentionDropout, selfAttention)
        let crossAttended = residual(attended, norm: crossAttentionNorm, dropout: crossAttentionDropout, crossAttention)
        return residual(crossAttended, norm: feedForwardNorm, dropout: feedForwardDropout) { self.feedForward($0) }
    }

    /// x + Dropout(sublayer(LN(x))) (pre-LN) or LN(x + Dropout(sublayer(x))) (post-LN).
    private func residual(_ x: Tensor, norm: LayerNorm, dropout: Dropout, _ sublayer: (Tensor) -> Tensor) -> Tensor {
        switch normalization {
        case .preLN: x + dropout(sublayer(norm(x)))
        case .postLN: norm(x + dropout(sublayer(x)))
        }
    }

    /// Cross-attention to the source's keys and values, projected once per translation.
    private func attendToSource(_ x: Tensor, cache: DecoderLayerCache) -> Tensor {
        let attended = scaledDotProductAttention(queries: crossAttention.query(x).splittingHeads(crossAttention.heads),
                                                 keys: cache.sourceKeys, values: cache.sourceValues, keyPadding: cache.sourcePadding)
        return crossAttention.output(attended.mergingHeads())
    }

    /// An empty cache for the rows of `source`, with the source's keys and values projected.
    /// The self-attention must make a cache beam search can reorder (the model checks it).
    public func makeCache(source: EncodedSource) -> DecoderLayerCache {
        let heads = crossAttention.heads
        let selfCache: any AttentionCache
        do { selfCache = try selfAttention.makeCache(batch: source.states.shape[0]) } catch {
            preconditionFailure("the decoder's self-attention cannot decode incrementally: \(error)")
        }
        guard let reorderable = selfCache as? any ReorderableAttentionCache, reorderable.canReorder else {
            preconditionFailure("the decoder's self-attention cache \(type(of: selfCache)) cannot be reordered")
        }
        return DecoderLayerCache(selfAttention: reorderable, sourceKeys: crossAttention.key(source.states).splittingHeads(heads),
                                 sourceValues: crossAttention.value(source.states).splittingHeads(heads), sourcePadding: source.padding)
    }
}

/// The encoder's output for a batch of sources: hidden states [batch, sourceLength, d] and
/// which positions are real (`true`) or padding.
public struct EncodedSource: @unchecked Sendable {
    public var states: Tensor
    public var padding: [[Bool]]

    public init(states: Tensor, padding: [[Bool]]) {
        precondition(states.rank == 3 && padding.count == states.shape[0] && padding.allSatisfy { $0.count == states.shape[1] },
                     "padding \(padding.count)×\(padding.first?.count ?? 0) does not fit encoder states \(states.shape)")
        (self.states, self.padding) = (states, padding)
    }
}

/// What one decoder layer keeps between steps: its self-attention's cache of the positions
/// decoded so far (full attention's keys and values; LSRA's also the convolution's last K − 1
/// frames), and the cross-attention's keys and values of the source [rows, heads,
/// sourceLength, headDimensions]. Rows can be reordered (beam search keeps the best beams).
public final class DecoderLayerCache {
    public let selfAttention: any ReorderableAttentionCache
    public private(set) var sourceKeys: Tensor
    public private(set) var sourceValues: Tensor
    public private(set) var sourcePadding: [[Bool]]

    init(selfAttention: any ReorderableAttentionCache, sourceKeys: Tensor, sourceValues: Tensor, sourcePadding: [[Bool]]) {
        (self.selfAttention, self.sourceKeys, self.sourceValues, self.sourcePadding) = (selfAttention, sourceKeys, sourceValues, sourcePadding)
    }

    /// Keeps rows `rows` (indices into the current rows, repeats allowed), in that order.
    public func reorder(_ rows: [Int]) {
        let indices = IndexTensor(rows)
        selfAttention.reorder(rows)
        sourceKeys = sourceKeys.gathered(alongAxis: 0, indices: indices)
        sourceValues = sourceValues.gathered(alongAxis: 0, indices: indices)
        sourcePadding = rows.map { sourcePadding[$0] }
    }
}
