import GlanceAttention

/// The multiply-adds of one sentence pair through a translation model, counted as Lite
/// Transformer (Wu et al. 2020) counts them: a source and a target of 30 tokens each, every
/// matrix product of the encoder's and the decoder's layers (projections, feed-forwards,
/// attention scores and weighted sums over all n × n pairs, the decoder's causal ones too, as a
/// profiler counts the masked product, the cross-attention's source keys and values), the
/// convolutions (K taps per channel and position) and the dynamic convolution's kernel
/// projection. Embedding lookups, softmax, LayerNorm, activations and biases are not counted,
/// nor the output projection to the vocabulary, which is given apart. This reproduces the
/// paper's figures: 87M for its mobile Transformer (d 128, ffn 512, 6 + 6 layers) and 90M for
/// Lite Transformer d 200.
public struct MultiplyAddCount: Equatable, Sendable {
    public var encoder: Int
    public var decoder: Int
    /// The decoder's states to logits: target length × d_model × vocab_size.
    public var outputProjection: Int
    /// What the paper reports: encoder and decoder layers.
    public var layers: Int { encoder + decoder }
}

extension TranslationConfiguration {
    /// The sentence length Lite Transformer's multiply-adds assume, for the source and the target.
    public static let paperSentenceLength = 30

    /// The multiply-adds of one `sourceLength`-token source and `targetLength`-token target
    /// (``MultiplyAddCount``); nil unless both self-attentions are "full" or "lsra" over full attention.
    public func multiplyAdds(sourceLength: Int = paperSentenceLength, targetLength: Int = paperSentenceLength) -> MultiplyAddCount? {
        let d = modelDimensions, (s, t) = (sourceLength, targetLength)
        let feedForward = { (n: Int) in 2 * n * d * feedForwardDimensions }
        var encoder = 0, decoder = 0
        for layer in 0..<encoderLayers {
            guard let attention = selfAttentionMultiplyAdds(encoderAttention, length: s, shape: attentionShape(layer: layer)) else { return nil }
            encoder += attention + feedForward(s)
        }
        let crossAttention = 2 * t * d * d + 2 * s * d * d + 2 * t * s * d
        for layer in 0..<decoderLayers {
            guard let attention = selfAttentionMultiplyAdds(decoderAttention, length: t, shape: attentionShape(layer: layer, decoder: true))
            else { return nil }
            decoder += attention + crossAttention + feedForward(t)
        }
        return MultiplyAddCount(encoder: encoder, decoder: decoder, outputProjection: t * d * vocabularySize)
    }

    /// Self-attention over `n` positions: full attention's four projections and n² scores and
    /// sums; LSRA's attention branch the same at its width, plus its convolution branch.
    private func selfAttentionMultiplyAdds(_ attention: AttentionConfiguration, length n: Int, shape: AttentionShape) -> Int? {
        let full = { (width: Int) in 4 * n * width * width + 2 * n * n * width }
        if attention == .full { return full(shape.modelDimensions) }
        guard let options = attention.options as? LongShortRangeOptions, options.attention == .full else { return nil }
        let a = options.attentionWidth(shape), c = shape.modelDimensions - a, k = options.kernelSize(layer: shape.layer)
        let heads = options.convolutionHeads ?? shape.heads
        let input = n * c * (options.glu ? 2 * c : c), output = n * c * c, convolution = n * c * k
        let kernels = options.convolution == .dynamic ? n * c * heads * k : 0
        return full(a) + input + convolution + kernels + output
    }
}
