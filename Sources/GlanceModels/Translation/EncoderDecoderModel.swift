import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// An encoder-decoder Transformer for translation over one joint vocabulary (a
/// ``GlanceData/BytePairEncoding``'s ids: 0 padding, 1 beginning, 2 end of sentence).
///
/// Embeddings are scaled by √d_model and added to the fixed sinusoidal positions (sin on even,
/// cos on odd features), then dropout. The encoder stacks ``TransformerBlock``s whose
/// self-attention is any mechanism of the registry (with the source's key padding), the
/// decoder ``DecoderBlock``s whose causal self-attention is full attention or LSRA (Lite
/// Transformer: both sides "lsra" with `ffn_dim` = `d_model`); each stack ends with a LayerNorm, as PyTorch's `nn.Transformer`
/// does (pre-LN and post-LN alike), and the output projection (no bias) maps the decoder's
/// states to logits. `tie` shares the embeddings: "all" uses one matrix for the source and
/// target embeddings and the projection, "decoder" the target embedding for the projection.
///
/// Parameter keys: `sourceEmbedding.weight`, `targetEmbedding.weight`, `encoder.layers.<i>.…`,
/// `encoderNorm.…`, `decoder.<i>.…`, `decoderNorm.…`, `outputProjection.weight` (shared
/// matrices are stored once, under their first key).
public final class EncoderDecoderModel: Module {
    public let configuration: TranslationConfiguration
    public let sourceEmbedding: Embedding
    public let targetEmbedding: Embedding
    public let embeddingDropout: Dropout
    public let encoder: BlockStack
    public let encoderNorm: LayerNorm
    public let decoder: [DecoderBlock]
    public let decoderNorm: LayerNorm
    public let outputProjection: Linear
    /// The random stream of every dropout layer (saved with checkpoints).
    public let _randomSource: RandomSource
    /// [max_length, d_model] sinusoids.
    private let positions: Tensor

    /// The model `c` describes, its weights drawn from `seed`: embeddings N(0, 1/√d_model) (fairseq),
    /// projections N(0, 0.02), biases 0, LayerNorms 1 and 0.
    public init(configuration c: TranslationConfiguration, seed: UInt64) throws {
        try c.validate()
        var generator = RandomGenerator(seed: seed)
        let source = RandomSource(seed: seed &+ 1)
        let d = c.modelDimensions, std = TransformerBlock.initialStandardDeviation
        let embeddingStandardDeviation = 1 / Float(d).squareRoot()
        sourceEmbedding = Embedding(count: c.vocabularySize, dimensions: d, standardDeviation: embeddingStandardDeviation, generator: &generator)
        targetEmbedding = c.tie == .all ? sourceEmbedding
            : Embedding(count: c.vocabularySize, dimensions: d, standardDeviation: embeddingStandardDeviation, generator: &generator)
        embeddingDropout = Dropout(probability: c.dropout, source: source)
        let build = AttentionBuild(required: .bidirectional)
        build.randomSource = source
        var encoderLayers: [TransformerBlock] = []
        for layer in 0..<c.encoderLayers {
            let attention = try c.encoderAttention.make(shape: c.attentionShape(layer: layer), build: build, generator: &generator)
            do { try attention.check(.bidirectional) } catch let error as AttentionCapabilityError {
                throw ConfigurationValueError(field: "model.encoder_attention", reason: "cannot serve the encoder: \(error)")
            }
            encoderLayers.append(TransformerBlock(attention: attention, feedForward: Self.feedForward(c, generator: &generator),
                                                  dropout: c.dropout, source: source, normalization: c.block))
        }
        encoder = BlockStack(encoderLayers, randomSource: source)
        encoderNorm = LayerNorm(dimensions: d)
        var decoderLayers: [DecoderBlock] = []
        let decoderBuild = AttentionBuild(required: [.causal, .incremental])
        decoderBuild.randomSource = source
        for layer in 0..<c.decoderLayers {
            let selfAttention = try Self.decoderSelfAttention(c, layer: layer, build: decoderBuild, generator: &generator)
            let crossAttention = try FullAttention(modelDimensions: d, heads: c.heads, standardDeviation: std, generator: &generator)
            decoderLayers.append(DecoderBlock(selfAttention: selfAttention, crossAttention: crossAttention,
                                              feedForward: Self.feedForward(c, generator: &generator), dropout: c.dropout, source: source,
                                              normalization: c.block))
        }
        decoder = decoderLayers
        decoderNorm = LayerNorm(dimensions: d)
        outputProjection = c.tie == .none ? Linear(d, c.vocabularySize, bias: false, standardDeviation: std, generator: &generator)
            : Linear(sharing: targetEmbedding.weight, bias: false)
        positions = sinusoidalPositions(count: c.maximumLength, dimensions: d)
        configuration = c
        _randomSource = source
        super.init()
    }

    /// Layer `layer`'s causal self-attention, refused unless it decodes with a cache beam search can reorder.
    private static func decoderSelfAttention(_ c: TranslationConfiguration, layer: Int, build: AttentionBuild,
                                             generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let attention = try c.decoderAttention.make(shape: c.attentionShape(layer: layer, decoder: true), build: build, generator: &generator)
        do { try attention.check([.causal, .incremental]) } catch let error as AttentionCapabilityError {
            throw ConfigurationValueError(field: "model.decoder_attention", reason: "cannot serve the decoder: \(error)")
        }
        guard (try attention.makeCache(batch: 1)).supportsReordering else {
            throw ConfigurationValueError(field: "model.decoder_attention",
                                          reason: "cannot serve the decoder: beam search cannot reorder the \(c.decoderAttention.type) mechanism's cache")
        }
        return attention
    }

    private static func feedForward(_ c: TranslationConfiguration, generator: inout RandomGenerator) -> FeedForward {
        FeedForward(dimensions: c.modelDimensions, hiddenDimensions: c.feedForwardDimensions, activation: c.activation,
                    standardDeviation: TransformerBlock.initialStandardDeviation, generator: &generator)
    }

    public var vocabularySize: Int { configuration.vocabularySize }

    /// dropout(√d · embedding(ids) + sinusoid(position)) for ids [batch, length] at positions
    /// `firstPosition ..< firstPosition + length`.
    func embed(_ ids: IndexTensor, with embedding: Embedding, firstPosition: Int = 0) -> Tensor {
        let range = firstPosition..<(firstPosition + ids.shape[1])
        precondition(range.upperBound <= configuration.maximumLength, "positions \(range) exceed max_length \(configuration.maximumLength)")
        let scale = Float(configuration.modelDimensions).squareRoot()
        return embeddingDropout(embedding(ids) * scale + positions.sliced(alongAxis: 0, range))
    }

    /// The encoder's output for source sentences (token ids without markers): each gets the end
    /// marker, and shorter ones are padded. Each must have at most `max_length − 1` tokens.
    public func encode(_ sources: [[Int]]) -> EncodedSource {
        let rows = sources.map { $0 + [BytePairEncoding.endID] }
        let (ids, padding) = paddedIDs(rows)
        let context = AttentionContext(mask: AttentionMask(keyPadding: padding))
        return EncodedSource(states: encoderNorm(encoder.forward(embed(ids, with: sourceEmbedding), context: context).output), padding: padding)
    }

    /// Logits [batch, length, vocabulary] of each next target token, for decoder inputs
    /// `targetInputs` (padded rows that start with the beginning marker) and the encoded source.
    public func decode(_ targetInputs: [[Int]], source: EncodedSource) -> Tensor {
        var hidden = embed(paddedIDs(targetInputs).ids, with: targetEmbedding)
        for block in decoder { hidden = block.forward(hidden, source: source) }
        return outputProjection(decoderNorm(hidden))
    }

    /// Rows padded with the padding id to the longest, as [batch, length] ids, and which positions are real.
    func paddedIDs(_ rows: [[Int]]) -> (ids: IndexTensor, padding: [[Bool]]) {
        let length = rows.map(\.count).max() ?? 0
        precondition(!rows.isEmpty && length > 0 && length <= configuration.maximumLength,
                     "rows must hold 1…\(configuration.maximumLength) tokens (max_length), got \(rows.map(\.count))")
        precondition(rows.joined().allSatisfy { $0 >= 0 && $0 < vocabularySize }, "token ids must be in 0..<\(vocabularySize)")
        let padded = rows.flatMap { $0 + Array(repeating: BytePairEncoding.paddingID, count: length - $0.count) }
        return (IndexTensor(padded, shape: [rows.count, length]), rows.map { row in (0..<length).map { $0 < row.count } })
    }

    /// Teacher forcing: the label-smoothed cross-entropy (fairseq's, ε = `labelSmoothing`) of
    /// each target sentence followed by the end marker, the decoder reading the beginning marker
    /// followed by the sentence; padding counts nowhere. Sources and targets are token ids
    /// without markers, of at most `max_length − 1` tokens.
    public func loss(sources: [[Int]], targets: [[Int]], labelSmoothing: Float) -> LabelSmoothedLoss {
        precondition(sources.count == targets.count, "\(sources.count) sources for \(targets.count) targets")
        let logits = decode(targets.map { [BytePairEncoding.beginID] + $0 }, source: encode(sources))
        let length = logits.shape[1]
        let labels = targets.flatMap { row in
            row + [BytePairEncoding.endID] + Array(repeating: BytePairEncoding.paddingID, count: length - row.count - 1)
        }
        return labelSmoothedCrossEntropy(logits: logits.reshaped(to: [-1, vocabularySize]), targets: labels, epsilon: labelSmoothing,
                                         ignoreIndex: BytePairEncoding.paddingID)
    }
}

/// A translation model decoding a few sentences one token at a time: the per-layer caches
/// and the positions decoded so far.
public final class TranslationDecoderState: BeamSearchDecoder {
    public let model: EncoderDecoderModel
    public let layers: [DecoderLayerCache]
    /// Positions decoded so far (the next token's position).
    public private(set) var length = 0

    /// The state before the first token, for the encoded sources.
    public init(model: EncoderDecoderModel, source: EncodedSource) {
        self.model = model
        layers = model.decoder.map { $0.makeCache(source: source) }
    }

    /// Logits [rows, vocabulary] of the token after each row's `tokens` (one per row, the last
    /// token decoded), which the caches then hold. Inference only.
    public func nextLogits(after tokens: [Int]) -> Tensor {
        var hidden = model.embed(IndexTensor(tokens, shape: [tokens.count, 1]), with: model.targetEmbedding, firstPosition: length)
        for (block, cache) in zip(model.decoder, layers) { hidden = block.forward(hidden, cache: cache) }
        length += 1
        return model.outputProjection(model.decoderNorm(hidden)).reshaped(to: [tokens.count, model.vocabularySize])
    }

    public var maximumLength: Int { model.configuration.maximumLength }

    public func nextLogProbabilities(after tokens: [Int]) -> [Float] {
        nextLogits(after: tokens).logSoftmax(alongAxis: -1).scalars
    }

    public func reorder(_ rows: [Int]) {
        for layer in layers { layer.reorder(rows) }
    }
}
