import GlanceCore
import GlanceNN

/// The CTC output layer: a ``Linear`` map from the encoder's frames to one score per output
/// unit, blank included ([batch, time, d] → [batch, time, vocabulary]), and their log-softmax,
/// the log-probabilities a CTC loss and decoder read. (Hugging Face's Parakeet head is a
/// kernel-1 Conv1d, the same map; its [vocabulary, d, 1] weight loads reshaped.)
public final class CTCHead: Module {
    public let projection: Linear

    /// `vocabulary` counts every unit, the blank included.
    public init(modelDimensions: Int, vocabulary: Int, generator: inout RandomGenerator) {
        projection = Linear(modelDimensions, vocabulary, generator: &generator)
        super.init()
    }

    public var vocabulary: Int { projection.outputCount }

    /// The unnormalized scores (Hugging Face's `logits`).
    public func logits(_ hidden: Tensor) -> Tensor { projection(hidden) }

    /// Log-probabilities over the units, per frame.
    public func callAsFunction(_ hidden: Tensor) -> Tensor { logits(hidden).logSoftmax(alongAxis: -1) }
}
