import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// A decoder-only, pre-LN Transformer over bytes (or any small vocabulary).
///
/// Initialization follows GPT-2: weights N(0, 0.02), the residual output projections
/// N(0, 0.02/√(2·layers)), biases 0, LayerNorm 1/0; the LM head is untied unless
/// `tie_embeddings` makes its weight the token embedding (one shared parameter). With
/// `reversible` (Reformer), the blocks form a ``reversibleTransformerStack(_:blocks:mask:randomSource:storingActivations:)``
/// over the duplicated embeddings, and the final LayerNorm and the head read both halves.
public final class CharacterLanguageModel: Module {
    public let configuration: LanguageModelConfiguration
    public let tokenEmbedding: Embedding
    public let learnedPositions: LearnedPositions?
    public let embeddingDropout: Dropout
    public let blocks: [TransformerBlock]
    public let finalNorm: LayerNorm
    public let head: Linear
    /// The random stream of every dropout layer (saved with checkpoints).
    public let _randomSource: RandomSource
    private let _sinusoids: Tensor?

    public init(configuration c: LanguageModelConfiguration, seed: UInt64) throws {
        try c.validate()
        configuration = c
        var generator = RandomGenerator(seed: seed)
        _randomSource = RandomSource(seed: seed &+ 1)
        let std = TransformerBlock.initialStandardDeviation
        let input = InputEmbedding(c, source: _randomSource, generator: &generator)
        (tokenEmbedding, learnedPositions, _sinusoids, embeddingDropout) = (input.tokenEmbedding, input.learnedPositions, input.sinusoids, input.dropout)
        blocks = try TransformerBlock.stack(c, required: .causal, source: _randomSource, generator: &generator)
        let width = c.reversible ? 2 * c.modelDimensions : c.modelDimensions
        finalNorm = LayerNorm(dimensions: width)
        if c.tieEmbeddings {
            guard !c.reversible else {
                throw ConfigurationValueError(field: "model.tie_embeddings",
                                              reason: "cannot be used with reversible: the reversible head reads 2·d_model features, the embedding has d_model")
            }
            head = Linear(sharing: tokenEmbedding.weight)
        } else {
            head = Linear(width, c.vocabularySize, standardDeviation: std, generator: &generator)
        }
        super.init()
    }

    /// Next-token logits [batch, length, vocabulary] for token ids [batch, length].
    public func callAsFunction(_ ids: IndexTensor) -> Tensor {
        precondition(ids.shape.count == 2, "token ids must be [batch, length], got \(ids.shape)")
        let length = ids.shape[1]
        precondition(length <= configuration.context, "sequence of \(length) exceeds the model context \(configuration.context)")
        var x = embed(ids)
        if configuration.reversible {
            x = reversibleTransformerStack(concatenate([x, x], alongAxis: 2), blocks: blocks, mask: .causal, randomSource: _randomSource)
        } else {
            for block in blocks { x = block(x, mask: .causal) }
        }
        return head(finalNorm(x))
    }

    /// Token embeddings plus the positions `firstPosition ..< firstPosition + length`, after dropout.
    func embed(_ ids: IndexTensor, firstPosition: Int = 0) -> Tensor {
        InputEmbedding(tokenEmbedding: tokenEmbedding, learnedPositions: learnedPositions, sinusoids: _sinusoids,
                       dropout: embeddingDropout)(ids, firstPosition: firstPosition)
    }

    /// Mean next-token cross-entropy (nats) of a batch.
    public func loss(inputs: IndexTensor, targets: [Int]) -> Tensor {
        crossEntropy(logits: self(inputs).reshaped(to: [-1, configuration.vocabularySize]), targets: targets)
    }

    /// Samples `count` tokens after `prompt` (a newline when empty). `temperature` 0 picks the
    /// most likely token; `topK` keeps only the k most likely before sampling.
    ///
    /// With `caching` (the default) and a model that ``supportsIncrementalDecoding``, each
    /// layer keeps its keys and values (or its mechanism's state) and each new token costs one
    /// position's forward; see ``generateIncrementally(after:count:temperature:topK:generator:)``
    /// for what happens when the text outgrows the context. Otherwise each token recomputes the
    /// window of the last `context` tokens.
    public func generate(prompt: [Int], count: Int, temperature: Float, topK: Int?, caching: Bool = true,
                         generator: inout RandomGenerator) -> [Int] {
        var tokens = prompt.isEmpty ? [Int(UInt8(ascii: "\n"))] : prompt
        if caching && supportsIncrementalDecoding {
            return generateIncrementally(after: tokens, count: count, temperature: temperature, topK: topK, generator: &generator)
        }
        let start = tokens.count
        withoutGradients {
            for _ in 0..<count {
                let window = Array(tokens.suffix(configuration.context))
                let logits = self(IndexTensor(window, shape: [1, window.count])).scalars.suffix(configuration.vocabularySize)
                tokens.append(sampleToken(Array(logits), temperature: temperature, topK: topK, generator: &generator))
            }
        }
        return Array(tokens[start...])
    }
}

/// Picks a token from logits: greedy at temperature 0, else softmax(logits / T) over the top k.
public func sampleToken(_ logits: [Float], temperature: Float, topK: Int?, generator: inout RandomGenerator) -> Int {
    let best = logits.indices.max { logits[$0] < logits[$1] }!
    guard temperature > 0 else { return best }
    var candidates = Array(logits.indices)
    if let topK, topK < candidates.count { candidates = Array(candidates.sorted { logits[$0] > logits[$1] }.prefix(Swift.max(topK, 1))) }
    let peak = logits[best]
    let weights = candidates.map { Foundation.exp(Double((logits[$0] - peak) / temperature)) }
    var threshold = Double(generator.nextUniform()) * weights.reduce(0, +)
    for (candidate, weight) in zip(candidates, weights) {
        threshold -= weight
        if threshold <= 0 { return candidate }
    }
    return candidates.last!
}
