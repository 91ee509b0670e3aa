import GlanceCore
import GlanceNN

/// Absolute positions an input stage adds to its embeddings.
public enum AbsolutePositions: String, CaseIterable, Sendable {
    /// A trained table, one row per position (GPT-2).
    case learned
    /// The fixed sines and cosines of the original Transformer.
    case sinusoidal
    /// None: the blocks see positions only through causality or relative-position terms.
    case none
}

/// Token embedding + absolute positions + dropout: the input stage of the byte-level models,
/// GPT-2 initialized (N(0, 0.02) embedding and learned positions).
public final class TokenInput: Module, InputStage {
    public let tokenEmbedding: Embedding
    /// The position table when `positions` is learned.
    public let learnedPositions: LearnedPositions?
    public let dropout: Dropout
    public let positions: AbsolutePositions
    /// The fixed table when `positions` is sinusoidal.
    private let sinusoids: Tensor?
    /// Positions the stage can number (the model's context).
    public let maximumLength: Int

    /// Draws the embedding, then (when learned) the positions, from `generator`.
    public init(vocabularySize: Int, dimensions: Int, maximumLength: Int, positions: AbsolutePositions, dropout: Float,
                source: RandomSource, generator: inout RandomGenerator) {
        let std = TransformerBlock.initialStandardDeviation
        tokenEmbedding = Embedding(count: vocabularySize, dimensions: dimensions, standardDeviation: std, generator: &generator)
        (learnedPositions, sinusoids) = positions.tables(maximumLength: maximumLength, dimensions: dimensions, generator: &generator)
        self.dropout = Dropout(probability: dropout, source: source)
        (self.positions, self.maximumLength) = (positions, maximumLength)
        super.init()
    }

    /// The stage a validated configuration describes (its `positions` names an ``AbsolutePositions``).
    convenience init(_ c: LanguageModelConfiguration, source: RandomSource, generator: inout RandomGenerator) {
        guard let positions = AbsolutePositions(rawValue: c.positions) else {
            preconditionFailure("positions '\(c.positions)': validate the configuration before building a model")
        }
        self.init(vocabularySize: c.vocabularySize, dimensions: c.modelDimensions, maximumLength: c.context, positions: positions,
                  dropout: c.dropout, source: source, generator: &generator)
    }

    public var outputDimensions: Int { tokenEmbedding.weight.shape[1] }

    /// dropout(embedding(ids) + positions) [batch, length, d] for ids [batch, length] at
    /// positions `firstPosition ..< firstPosition + length`.
    public func callAsFunction(_ ids: IndexTensor, firstPosition: Int = 0) -> Tensor {
        precondition(ids.shape.count == 2, "token ids must be [batch, length], got \(ids.shape)")
        let range = firstPosition..<(firstPosition + ids.shape[1])
        precondition(range.upperBound <= maximumLength, "positions \(range) exceed the \(maximumLength) positions of the model")
        let embedded = tokenEmbedding(ids)
        guard let table = learnedPositions?.weight.value ?? sinusoids else { return dropout(embedded) }
        return dropout(embedded + table.sliced(alongAxis: 0, range))
    }
}
