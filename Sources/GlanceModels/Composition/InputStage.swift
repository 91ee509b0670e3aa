import GlanceCore
import GlanceNN

/// The first part of a model: maps a batch of its inputs (token ids, audio features, a
/// real-valued series…) to hidden states [batch, length, ``outputDimensions``] for the blocks.
public protocol InputStage: Module {
    /// A batch of what the model reads.
    associatedtype Input

    /// The width of the hidden states it produces.
    var outputDimensions: Int { get }

    /// The hidden states of `input`, whose first position is `firstPosition` of the sequence
    /// (0, or the length of a cache when decoding a few positions at a time).
    func callAsFunction(_ input: Input, firstPosition: Int) -> Tensor
}
