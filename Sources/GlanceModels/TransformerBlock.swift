import GlanceAttention
import GlanceCore
import GlanceNN

/// Where a ``TransformerBlock`` normalizes: before each sublayer, inside the residual branch
/// (pre-LN: GPT-2), or after each residual sum (post-LN: the original Transformer, BERT,
/// Transformer-XL). The config's `"block"` field names it.
public enum BlockNormalization: String, Codable, CaseIterable, Sendable {
    case preLN = "pre-ln"
    case postLN = "post-ln"

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "must be one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'"))
        }
        self = value
    }
}

/// A Transformer block. Pre-LN: x + Dropout(Attention(LN(x))), then x + Dropout(FFN(LN(x))).
/// Post-LN: LN(x + Dropout(Attention(x))), then LN(x + Dropout(FFN(x))).
public final class TransformerBlock: Module {
    public let attentionNorm: LayerNorm
    public let attention: any AttentionMechanism
    public let attentionDropout: Dropout
    public let feedForwardNorm: LayerNorm
    public let feedForward: FeedForward
    public let feedForwardDropout: Dropout
    /// Where the two LayerNorms sit.
    public let normalization: BlockNormalization

    /// `normEpsilon` is both LayerNorms' ε (Hugging Face's `layer_norm_eps`).
    public init(attention: any AttentionMechanism, feedForward: FeedForward, dropout: Float, source: RandomSource,
                normEpsilon: Float = 1e-5, normalization: BlockNormalization = .preLN) {
        let width = attention.modelDimensions
        attentionNorm = LayerNorm(dimensions: width, epsilon: normEpsilon)
        self.attention = attention
        attentionDropout = Dropout(probability: dropout, source: source)
        feedForwardNorm = LayerNorm(dimensions: width, epsilon: normEpsilon)
        self.feedForward = feedForward
        feedForwardDropout = Dropout(probability: dropout, source: source)
        self.normalization = normalization
        super.init()
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        forward(x, context: AttentionContext(mask: mask)).output
    }

    /// The block under a full attention context (memory, cache, …); the output keeps the
    /// attention's auxiliary loss.
    public func forward(_ x: Tensor, context: AttentionContext) -> AttentionOutput {
        let branch = attentionSublayer(x, context: context)
        switch normalization {
        case .preLN:
            let attended = x + branch.output
            return AttentionOutput(attended + feedForwardSublayer(attended), auxiliaryLoss: branch.auxiliaryLoss)
        case .postLN:
            let attended = attentionNorm(x + branch.output)
            return AttentionOutput(feedForwardNorm(attended + feedForwardSublayer(attended)), auxiliaryLoss: branch.auxiliaryLoss)
        }
    }

    /// The attention branch, Dropout(Attention(LN(x))) (post-LN: without the LN), without its residual.
    public func attentionSublayer(_ x: Tensor, mask: AttentionMask) -> Tensor {
        attentionSublayer(x, context: AttentionContext(mask: mask)).output
    }

    /// The attention branch under `context`, with the attention's auxiliary loss. A memory
    /// holds earlier inputs of this block, so it goes through the same LayerNorm as `x` (pre-LN).
    public func attentionSublayer(_ x: Tensor, context: AttentionContext) -> AttentionOutput {
        var context = context
        var input = x
        if normalization == .preLN {
            context.memory = context.memory.map(attentionNorm.callAsFunction)
            input = attentionNorm(x)
        }
        var result = attention.attend(input, context: context)
        result.output = attentionDropout(result.output)
        return result
    }

    /// The feed-forward branch, Dropout(FFN(LN(x))) (post-LN: without the LN), without its residual.
    public func feedForwardSublayer(_ x: Tensor) -> Tensor {
        feedForwardDropout(feedForward(normalization == .preLN ? feedForwardNorm(x) : x))
    }
}

extension TransformerBlock {
    /// GPT-2's initial standard deviation for weights and embeddings.
    public static let initialStandardDeviation: Float = 0.02

    /// The `c.layers` blocks of a model described by `c`, with the attention of
    /// `c.attention`. Weights start from N(0, 0.02), the residual output projections from
    /// N(0, 0.02/√(2·layers)) (GPT-2). Every layer must serve `required` (``AttentionCapabilities/causal``
    /// for a language model); a mechanism that cannot is an error naming `model.attention`.
    public static func stack(_ c: LanguageModelConfiguration, required: AttentionCapabilities, source: RandomSource,
                             generator: inout RandomGenerator) throws -> [TransformerBlock] {
        let build = AttentionBuild(required: required)
        build.randomSource = source
        var blocks: [TransformerBlock] = []
        for layer in 0..<c.layers {
            let shape = c.attentionShape(layer: layer)
            let attention = try c.attention.make(shape: shape, build: build, generator: &generator)
            do {
                try attention.check(required)
            } catch let error as AttentionCapabilityError {
                throw ConfigurationValueError(field: "model.attention", reason: "cannot serve this model: \(error)")
            }
            let feedForward = FeedForward(dimensions: c.modelDimensions, hiddenDimensions: c.feedForwardMultiplier * c.modelDimensions,
                                          activation: c.activation, standardDeviation: shape.standardDeviation,
                                          outputStandardDeviation: shape.outputStandardDeviation, chunkLength: c.feedForwardChunk,
                                          generator: &generator)
            blocks.append(TransformerBlock(attention: attention, feedForward: feedForward, dropout: c.dropout, source: source,
                                           normalization: c.block))
        }
        return blocks
    }
}
