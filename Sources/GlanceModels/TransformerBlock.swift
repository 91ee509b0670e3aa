import GlanceAttention
import GlanceCore
import GlanceNN

/// Pre-LN Transformer block: x + Dropout(Attention(LN(x))), then x + Dropout(FFN(LN(x))).
public final class TransformerBlock: Module {
    public let attentionNorm: LayerNorm
    public let attention: any AttentionMechanism
    public let attentionDropout: Dropout
    public let feedForwardNorm: LayerNorm
    public let feedForward: FeedForward
    public let feedForwardDropout: Dropout

    public init(attention: any AttentionMechanism, feedForward: FeedForward, dropout: Float, source: RandomSource) {
        let width = attention.modelDimensions
        attentionNorm = LayerNorm(dimensions: width)
        self.attention = attention
        attentionDropout = Dropout(probability: dropout, source: source)
        feedForwardNorm = LayerNorm(dimensions: width)
        self.feedForward = feedForward
        feedForwardDropout = Dropout(probability: dropout, source: source)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        let attended = x + attentionDropout(attention(attentionNorm(x), mask: mask))
        return attended + feedForwardDropout(feedForward(feedForwardNorm(attended)))
    }
}
