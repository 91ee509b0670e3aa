import GlanceCore
import GlanceNN

/// The input stage of the byte-level models: token embedding + positions (learned or
/// sinusoidal) + dropout, GPT-2 initialized. ``CharacterLanguageModel`` and ``TextClassifier``
/// keep the parts as their own properties, so that their checkpoint keys stay flat.
struct InputEmbedding {
    let tokenEmbedding: Embedding
    let learnedPositions: LearnedPositions?
    let sinusoids: Tensor?
    let dropout: Dropout

    /// Draws the embedding, then (when learned) the positions, from `generator`.
    init(_ c: LanguageModelConfiguration, source: RandomSource, generator: inout RandomGenerator) {
        let std = TransformerBlock.initialStandardDeviation
        tokenEmbedding = Embedding(count: c.vocabularySize, dimensions: c.modelDimensions, standardDeviation: std, generator: &generator)
        if c.positions == "learned" {
            learnedPositions = LearnedPositions(maximumLength: c.context, dimensions: c.modelDimensions, standardDeviation: std, generator: &generator)
            sinusoids = nil
        } else {
            learnedPositions = nil
            sinusoids = sinusoidalPositions(count: c.context, dimensions: c.modelDimensions)
        }
        dropout = Dropout(probability: c.dropout, source: source)
    }

    init(tokenEmbedding: Embedding, learnedPositions: LearnedPositions?, sinusoids: Tensor?, dropout: Dropout) {
        (self.tokenEmbedding, self.learnedPositions, self.sinusoids, self.dropout) = (tokenEmbedding, learnedPositions, sinusoids, dropout)
    }

    /// dropout(embedding(ids) + positions) [batch, length, d] for ids [batch, length] at
    /// positions `firstPosition ..< firstPosition + length`.
    func callAsFunction(_ ids: IndexTensor, firstPosition: Int = 0) -> Tensor {
        let range = firstPosition..<(firstPosition + ids.shape[1])
        let table = learnedPositions?.weight.value ?? sinusoids!
        precondition(range.upperBound <= table.shape[0], "positions \(range) exceed the \(table.shape[0]) positions of the model")
        return dropout(tokenEmbedding(ids) + table.sliced(alongAxis: 0, range))
    }
}
