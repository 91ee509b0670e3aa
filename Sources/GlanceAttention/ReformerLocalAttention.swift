import GlanceCore
import GlanceNN

/// Reformer's local attention layers as an ``AttentionMechanism``: Hugging Face's
/// ``LocalSelfAttention`` (chunked local attention with query, key and value projections)
/// and its output projection (`ReformerSelfOutput.dense`, no bias). The counterpart of
/// ``Reformer`` for the "local" entries of a Reformer model's `attn_layers`.
public final class ReformerLocalAttention: Module, AttentionMechanism {
    public let attention: LocalSelfAttention
    public let output: Linear

    /// Throws an error naming the field (`heads`, `attention_head_size`, `local_chunk_length`,
    /// `local_num_chunks_before`, `local_num_chunks_after`) that cannot work. `headDimensions`
    /// defaults to `modelDimensions / heads`.
    public init(modelDimensions: Int, heads: Int, headDimensions: Int? = nil, chunkLength: Int = 64, chunksBefore: Int = 1,
                chunksAfter: Int = 0, standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil,
                generator: inout RandomGenerator) throws {
        let size = try headSize(modelDimensions: modelDimensions, heads: heads, headDimensions: headDimensions)
        attention = try LocalSelfAttention(hiddenSize: modelDimensions, heads: heads, headDimensions: size, chunkLength: chunkLength,
                                           chunksBefore: chunksBefore, chunksAfter: chunksAfter, standardDeviation: standardDeviation,
                                           generator: &generator)
        output = Linear(heads * size, modelDimensions, bias: false, standardDeviation: outputStandardDeviation ?? standardDeviation,
                        generator: &generator)
        super.init()
    }

    public var modelDimensions: Int { output.outputCount }
    public var heads: Int { attention.heads }
    public static let mechanismName = "reformer-local"
    public var capabilities: AttentionCapabilities { [.causal, .bidirectional] }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        requireSupport(of: context)
        return AttentionOutput(output(attention(input, mask: context.mask)))
    }
}
