import GlanceAttention
import GlanceCore
import GlanceNN

/// A Conformer block (Gulati et al. 2020), the macaron layout with half-step feed-forwards:
///
///     x ← x + ½·Dropout(FFN₁(LN(x)))
///     x ← x + Dropout(MHSA(LN(x)))
///     x ← x + Dropout(Conv(LN(x)))
///     x ← x + ½·Dropout(FFN₂(LN(x)))
///     y = LN(x)
///
/// FFN = Linear(d → hidden) → Swish → Dropout → Linear(hidden → d); MHSA is any attention
/// mechanism (the encoder's ``RelativePositionSelfAttention`` by default; another one gives
/// the paper's ablations); Conv is ``ConformerConvolutionModule``. Property names follow
/// Hugging Face's `ParakeetEncoderBlock` in Glance's spelling.
public final class ConformerBlock: Module {
    public let feedForwardNorm1: LayerNorm
    public let feedForward1: FeedForward
    public let attentionNorm: LayerNorm
    public let attention: any AttentionMechanism
    public let convolutionNorm: LayerNorm
    /// Nil in the ablation without the convolution module.
    public let convolution: ConformerConvolutionModule?
    public let feedForwardNorm2: LayerNorm
    public let feedForward2: FeedForward
    public let outputNorm: LayerNorm
    /// Applied to each module's output before its residual sum (the paper's dropout).
    public let dropout: Dropout

    /// `kernelSize` nil leaves out the convolution module.
    public init(attention: any AttentionMechanism, feedForwardDimensions: Int, kernelSize: Int?, dropout: Float, source: RandomSource,
                generator: inout RandomGenerator) {
        let d = attention.modelDimensions
        func feedForward(_ generator: inout RandomGenerator) -> FeedForward {
            FeedForward(dimensions: d, hiddenDimensions: feedForwardDimensions, activation: .silu,
                        dropout: Dropout(probability: dropout, source: source), generator: &generator)
        }
        feedForwardNorm1 = LayerNorm(dimensions: d)
        feedForward1 = feedForward(&generator)
        attentionNorm = LayerNorm(dimensions: d)
        self.attention = attention
        convolutionNorm = LayerNorm(dimensions: d)
        convolution = kernelSize.map { ConformerConvolutionModule(channels: d, kernelSize: $0, generator: &generator) }
        feedForwardNorm2 = LayerNorm(dimensions: d)
        feedForward2 = feedForward(&generator)
        outputNorm = LayerNorm(dimensions: d)
        self.dropout = Dropout(probability: dropout, source: source)
        super.init()
    }

    /// The block on `x` [batch, time, d]. `context` carries the key padding and the relative
    /// positions; `validFrames` ([batch, time, 1], nil: all real) the same padding for the
    /// convolution module. The output keeps the attention's auxiliary loss.
    public func forward(_ x: Tensor, context: AttentionContext, validFrames: Tensor?) -> AttentionOutput {
        var h = x + dropout(feedForward1(feedForwardNorm1(x))) * 0.5
        let attended = attention.attend(attentionNorm(h), context: context)
        h = h + dropout(attended.output)
        if let convolution { h = h + dropout(convolution(convolutionNorm(h), validFrames: validFrames)) }
        h = h + dropout(feedForward2(feedForwardNorm2(h))) * 0.5
        return AttentionOutput(outputNorm(h), auxiliaryLoss: attended.auxiliaryLoss)
    }
}
