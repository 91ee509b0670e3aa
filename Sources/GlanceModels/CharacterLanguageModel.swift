import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// A decoder-only Transformer over bytes (or any small vocabulary): a ``TokenInput``, a
/// ``BlockStack`` of causal blocks (pre-LN or post-LN, reversible on request) and a
/// ``LanguageModelHead``. Parameter keys: `input.tokenEmbedding.weight`,
/// `input.learnedPositions.weight`, `blocks.layers.<i>.…`, `head.norm.weight|bias`,
/// `head.projection.weight|bias`.
///
/// Initialization follows GPT-2: weights N(0, 0.02), the residual output projections
/// N(0, 0.02/√(2·layers)), biases 0, LayerNorm 1/0; the LM head is untied unless
/// `tie_embeddings` makes its weight the token embedding (one shared parameter). With
/// `reversible` (Reformer), the final LayerNorm and the head read both halves of the pair.
public final class CharacterLanguageModel: Module {
    public let configuration: LanguageModelConfiguration
    public let input: TokenInput
    public let blocks: BlockStack
    public let head: LanguageModelHead
    /// The random stream of every dropout layer (saved with checkpoints).
    public let _randomSource: RandomSource

    /// The model `c` describes, its weights drawn from `seed`.
    public convenience init(configuration c: LanguageModelConfiguration, seed: UInt64) throws {
        try c.validate()
        var generator = RandomGenerator(seed: seed)
        let source = RandomSource(seed: seed &+ 1)
        let input = TokenInput(c, source: source, generator: &generator)
        let blocks = try BlockStack(c, required: .causal, source: source, generator: &generator)
        let projection: Linear
        if c.tieEmbeddings {
            guard !c.reversible else {
                throw ConfigurationValueError(field: "model.tie_embeddings",
                                              reason: "cannot be used with reversible: the reversible head reads 2·d_model features, the embedding has d_model")
            }
            projection = Linear(sharing: input.tokenEmbedding.weight)
        } else {
            projection = Linear(blocks.outputDimensions(modelDimensions: c.modelDimensions), c.vocabularySize,
                                standardDeviation: TransformerBlock.initialStandardDeviation, generator: &generator)
        }
        self.init(configuration: c, input: input, blocks: blocks, head: LanguageModelHead(projection: projection), randomSource: source)
    }

    /// A model of the given parts; `configuration` gives its context and vocabulary, and
    /// `randomSource` is the stream of the parts' dropout layers.
    public init(configuration: LanguageModelConfiguration, input: TokenInput, blocks: BlockStack, head: LanguageModelHead,
                randomSource: RandomSource) {
        precondition(head.vocabularySize == configuration.vocabularySize,
                     "the head predicts \(head.vocabularySize) tokens, the configuration has \(configuration.vocabularySize)")
        (self.configuration, self.input, self.blocks, self.head, _randomSource) = (configuration, input, blocks, head, randomSource)
        super.init()
    }

    /// Next-token logits [batch, length, vocabulary] for token ids [batch, length].
    public func callAsFunction(_ ids: IndexTensor) -> Tensor {
        forward(ids).output
    }

    /// The logits with the blocks' auxiliary loss.
    private func forward(_ ids: IndexTensor) -> AttentionOutput {
        precondition(ids.shape.count == 2, "token ids must be [batch, length], got \(ids.shape)")
        precondition(ids.shape[1] <= configuration.context, "sequence of \(ids.shape[1]) exceeds the model context \(configuration.context)")
        var result = blocks.forward(input(ids), context: AttentionContext(mask: .causal))
        result.output = head(result.output)
        return result
    }

    /// Mean next-token cross-entropy (nats) of a batch, plus the blocks' auxiliary losses.
    public func loss(inputs: IndexTensor, targets: [Int]) -> Tensor {
        let result = forward(inputs)
        return result.addingAuxiliaryLoss(to: crossEntropy(logits: result.output.reshaped(to: [-1, configuration.vocabularySize]), targets: targets))
    }

    /// Samples `count` tokens after `prompt` (a newline when empty). `temperature` 0 picks the
    /// most likely token; `topK` keeps only the k most likely before sampling.
    ///
    /// With `caching` (the default), a model with a memory reads each new token after its
    /// memories (``generateWithMemory(after:count:temperature:topK:generator:)``); a model that
    /// ``supportsIncrementalDecoding`` has each layer keep its keys and values (or its
    /// mechanism's state), and each new token costs one position's forward; see ``generateIncrementally(after:count:temperature:topK:generator:)``
    /// for what happens when the text outgrows the context. Otherwise each token recomputes the
    /// window of the last `context` tokens.
    public func generate(prompt: [Int], count: Int, temperature: Float, topK: Int?, caching: Bool = true,
                         generator: inout RandomGenerator) -> [Int] {
        var tokens = prompt.isEmpty ? [Int(UInt8(ascii: "\n"))] : prompt
        if caching && memoryLength > 0 {
            return generateWithMemory(after: tokens, count: count, temperature: temperature, topK: topK, generator: &generator)
        }
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
