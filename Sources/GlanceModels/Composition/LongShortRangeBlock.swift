import GlanceAttention
import GlanceCore
import GlanceNN

extension TransformerBlock {
    /// Lite Transformer's encoder layer (Wu et al. 2020, lite-transformer's
    /// `transformer_multibranch_v2`): long-short range attention (``LongShortRangeAttention``,
    /// configured by `options`) in place of self-attention, post-LN, and the "flattened"
    /// feed-forward, Linear(d → `feedForwardDimensions`, default d) → ReLU → Linear(→ d).
    /// Under a causal mask, or with a cache, the same block is the decoder's self-attention part.
    /// `layer` of `layers` picks the kernel size when `options` gives one per layer.
    public static func longShortRange(modelDimensions: Int, heads: Int, options: LongShortRangeOptions = .init(), maximumLength: Int,
                                      layer: Int = 0, layers: Int = 1, feedForwardDimensions: Int? = nil, dropout: Float = 0,
                                      normalization: BlockNormalization = .postLN, source: RandomSource,
                                      generator: inout RandomGenerator) throws -> TransformerBlock {
        let shape = AttentionShape(modelDimensions: modelDimensions, heads: heads, maximumLength: maximumLength, layers: layers, layer: layer)
        let build = AttentionBuild(required: [])
        build.randomSource = source
        let attention = try AttentionConfiguration(options).make(shape: shape, build: build, generator: &generator)
        let feedForward = FeedForward(dimensions: modelDimensions, hiddenDimensions: feedForwardDimensions ?? modelDimensions, activation: .relu,
                                      generator: &generator)
        return TransformerBlock(attention: attention, feedForward: feedForward, dropout: dropout, source: source, normalization: normalization)
    }
}
