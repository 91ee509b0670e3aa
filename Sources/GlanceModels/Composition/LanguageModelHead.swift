import GlanceCore
import GlanceNN

/// Final LayerNorm + projection to the vocabulary: next-token logits from hidden states.
///
/// The projection comes from outside, so that a model may build it from its input embedding
/// (tied weights).
public final class LanguageModelHead: Module, UnaryLayer {
    public let norm: LayerNorm
    public let projection: Linear

    /// A LayerNorm over the projection's input width, then `projection`.
    public init(projection: Linear, normEpsilon: Float = 1e-5) {
        norm = LayerNorm(dimensions: projection.inputCount, epsilon: normEpsilon)
        self.projection = projection
        super.init()
    }

    public var vocabularySize: Int { projection.outputCount }

    /// Logits [batch, length, vocabulary] for hidden states [batch, length, width].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        projection(norm(x))
    }
}
