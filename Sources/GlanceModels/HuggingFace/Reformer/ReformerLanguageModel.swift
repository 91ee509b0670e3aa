import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// A Reformer language model (Kitaev et al. 2020) as Hugging Face transformers builds it
/// (`ReformerModelWithLMHead`, or `ReformerForMaskedLM` when `is_decoder` is false). Loads a
/// Hugging Face model folder (config.json + model.safetensors) and gives its
/// `last_hidden_state` and `logits`.
///
/// - Embeddings: word embeddings plus axial (``AxialPositions``) or plain position embeddings
///   of positions 0..<n, duplicated to [x, x] along the features.
/// - Layers: a reversible stack (``reversibleTransformerStack(_:blocks:mask:)``) of
///   ``TransformerBlock``s, one per entry of `attn_layers`: LSH attention (``Reformer``) or local
///   attention (``ReformerLocalAttention``), each with its pre-LayerNorm and bias-free output
///   projection, then a pre-LN feed-forward block (biases, `hidden_act`, applied
///   `chunk_size_feed_forward` positions at a time). Causal when `is_decoder`.
/// - A final LayerNorm over the 2·hidden features (`last_hidden_state`), then the LM head
///   (`lm_head.decoder`, with bias) for `logits`.
/// - Inputs longer than the shortest chunk length are padded, as transformers pads them, to a
///   multiple of the chunk lengths with `pad_token_id` and masked; outputs are cut back.
/// - LSH rotations: Hugging Face draws fresh ones from torch's random generator on every
///   forward (or from `hash_seed`); here each LSH layer keeps fixed rotations, drawn when the
///   model is built from `hash_seed` (the same in every layer, as Hugging Face's `hash_seed`
///   gives) or else from ``defaultHashSeed`` plus the layer index, and replaceable with
///   ``setRotations(_:)`` to reproduce a given Hugging Face forward.
/// - `num_buckets` null: Hugging Face picks the buckets on its first forward from that
///   forward's (padded) length; here they are picked when the model is built, from
///   `bucketLength` (see ``init(configuration:bucketLength:seed:)``).
/// - Dropout is not applied (inference); no cache for incremental decoding.
public final class ReformerLanguageModel: Module {
    public let configuration: ReformerModelConfiguration
    /// The kind of each layer (`attn_layers`).
    public let layerKinds: [ReformerLayerKind]
    /// The LSH buckets of every LSH layer.
    public let buckets: LSHBuckets
    public let words: Embedding
    /// Axial position embeddings (`axial_pos_embds` true), else nil.
    public let axialPositions: AxialPositions?
    /// Plain position embeddings (`axial_pos_embds` false), else nil.
    public let positions: Embedding?
    public let blocks: [TransformerBlock]
    /// LayerNorm over the 2·hidden features of the reversible stack's output.
    public let finalNorm: LayerNorm
    public let head: Linear

    /// Seed of the rotations of LSH layer i (plus i) when `hash_seed` is not set.
    public static let defaultHashSeed: UInt64 = 0

    /// Builds the model of `c` with placeholder weights (load real ones with ``load(folder:bucketLength:)``).
    /// When `num_buckets` is null, buckets are chosen for inputs of `bucketLength` tokens, padded
    /// as the forward pads them (default: ``ReformerModelConfiguration/contextLength``); `seed`
    /// draws the weights.
    /// Throws a ``ConfigurationValueError`` naming the field that cannot work.
    public init(configuration c: ReformerModelConfiguration, bucketLength: Int? = nil, seed: UInt64 = 0) throws {
        try c.validate()
        configuration = c
        layerKinds = try c.layerKinds()
        buckets = try c.lshBuckets(forLength: c.paddedLength(bucketLength ?? c.contextLength))
        var generator = RandomGenerator(seed: seed)
        words = Embedding(count: c.vocabularySize, dimensions: c.hiddenSize, generator: &generator)
        if c.axialPositions {
            axialPositions = AxialPositions(shape: c.axialShape, dimensions: c.axialDimensions, generator: &generator)
            positions = nil
        } else {
            axialPositions = nil
            positions = Embedding(count: c.maximumPositions, dimensions: c.hiddenSize, generator: &generator)
        }
        let options = try LSHAttentionOptions(hashes: c.hashes, buckets: buckets, chunkLength: c.lshChunkLength,
                                              chunksBefore: c.lshChunksBefore, chunksAfter: c.lshChunksAfter)
        let activation = try c.activation()
        var blocks: [TransformerBlock] = []
        for (index, kind) in layerKinds.enumerated() {
            let attention: any AttentionMechanism
            switch kind {
            case .lsh:
                attention = try Reformer(modelDimensions: c.hiddenSize, heads: c.heads, headDimensions: c.attentionHeadSize, options: options,
                                         hashSeed: c.hashSeed ?? Self.defaultHashSeed &+ UInt64(index), generator: &generator)
            case .local:
                attention = try ReformerLocalAttention(modelDimensions: c.hiddenSize, heads: c.heads, headDimensions: c.attentionHeadSize,
                                                       chunkLength: c.localChunkLength, chunksBefore: c.localChunksBefore,
                                                       chunksAfter: c.localChunksAfter, generator: &generator)
            }
            let feedForward = FeedForward(dimensions: c.hiddenSize, hiddenDimensions: c.feedForwardSize, activation: activation,
                                          chunkLength: c.feedForwardChunkLength > 0 ? c.feedForwardChunkLength : nil, generator: &generator)
            blocks.append(TransformerBlock(attention: attention, feedForward: feedForward, dropout: 0, source: RandomSource(seed: seed),
                                           normEpsilon: c.layerNormEpsilon))
        }
        self.blocks = blocks
        finalNorm = LayerNorm(dimensions: 2 * c.hiddenSize, epsilon: c.layerNormEpsilon)
        head = Linear(2 * c.hiddenSize, c.vocabularySize, generator: &generator)
        super.init()
        eval()
    }

    /// Reads a Hugging Face model folder: config.json (`model_type` "reformer") and
    /// model.safetensors (keys of `ReformerModelWithLMHead`). `bucketLength` as in
    /// ``init(configuration:bucketLength:seed:)``. Errors (``PretrainedCheckpointError``) name
    /// the file and the config field or the Hugging Face weight keys at fault.
    public static func load(folder: URL, bucketLength: Int? = nil) throws -> ReformerLanguageModel {
        let configuration = try PretrainedCheckpoint.configuration(ReformerModelConfiguration.self, in: folder)
        let model = try ReformerLanguageModel(configuration: configuration, bucketLength: bucketLength)
        let (weightsURL, tensors) = try PretrainedCheckpoint.weights(in: folder)
        try model.update(parameters: try model.parameters(fromHuggingFace: tensors, path: weightsURL.path))
        return model
    }

    /// Hugging Face's key of a parameter of this model (`blocks.1.attention.attention.queryKey.weight`
    /// → `reformer.encoder.layers.1.attention.self_attention.query_key.weight`).
    public static func huggingFaceKey(for key: String) -> String {
        let top = [("words.", "reformer.embeddings.word_embeddings."), ("axialPositions.", "reformer.embeddings.position_embeddings."),
                   ("positions.", "reformer.embeddings.position_embeddings.embedding."), ("finalNorm.", "reformer.encoder.layer_norm."),
                   ("head.", "lm_head.decoder.")]
        let inBlock = [("attentionNorm.", "attention.layer_norm."), ("attention.attention.queryKey.", "attention.self_attention.query_key."),
                       ("attention.attention.", "attention.self_attention."), ("attention.output.", "attention.output.dense."),
                       ("feedForwardNorm.", "feed_forward.layer_norm."), ("feedForward.input.", "feed_forward.dense.dense."),
                       ("feedForward.output.", "feed_forward.output.dense.")]
        return GlanceModels.huggingFaceKey(for: key, top: top, inBlock: inBlock, layers: "reformer.encoder.layers.")
    }

    /// Hugging Face tensors that the model reads nowhere and that loading skips: the unused
    /// `lm_head.bias` (transformers' own forward uses `lm_head.decoder.bias`) and the mask
    /// constants older versions saved.
    static func isIgnored(huggingFaceKey key: String) -> Bool {
        key == "lm_head.bias" || key.hasSuffix("mask_value_float16") || key.hasSuffix("mask_value_float32")
    }

    /// This model's parameter values from a Hugging Face checkpoint's tensors. Throws a
    /// ``PretrainedCheckpointError`` naming Hugging Face's keys: missing tensors (an
    /// `lm_head.decoder.bias` may be absent when `lm_head.bias` holds it), unexpected ones and
    /// shape mismatches.
    public func parameters(fromHuggingFace tensors: [String: Tensor], path: String) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:], missing: [String] = [], used: Set<String> = []
        for (key, parameter) in namedParameters() {
            var source = Self.huggingFaceKey(for: key)
            if tensors[source] == nil, source == "lm_head.decoder.bias", tensors["lm_head.bias"] != nil { source = "lm_head.bias" }
            guard let tensor = tensors[source] else { missing.append(source); continue }
            guard tensor.shape == parameter.shape else {
                throw PretrainedCheckpointError.mismatchedWeight(path: path, key: source, expected: parameter.shape, found: tensor.shape)
            }
            values[key] = tensor
            used.insert(source)
        }
        guard missing.isEmpty else { throw PretrainedCheckpointError.missingWeights(path: path, keys: missing.sorted()) }
        let unexpected = tensors.keys.filter { !used.contains($0) && !Self.isIgnored(huggingFaceKey: $0) }.sorted()
        guard unexpected.isEmpty else { throw PretrainedCheckpointError.unexpectedWeights(path: path, keys: unexpected) }
        return values
    }

    /// Indices of the LSH layers in `attn_layers`.
    public var lshLayers: [Int] { layerKinds.indices.filter { layerKinds[$0] == .lsh } }

    /// Replaces the rotations of the LSH layers, given under the keys `layers.<i>` (i the
    /// layer's index in `attn_layers`), each [heads, attention_head_size, num_hashes,
    /// directions] with directions = Σ num_buckets/2 (Hugging Face's layout, as its
    /// `_hash_vectors` draws them). Every LSH layer must be given, and nothing else.
    public func setRotations(_ rotations: [String: Tensor]) throws {
        let c = configuration
        let expected = [c.heads, c.attentionHeadSize, c.hashes, buckets.directions]
        let wanted = Dictionary(uniqueKeysWithValues: lshLayers.map { ("layers.\($0)", $0) })
        if let extra = rotations.keys.sorted().first(where: { wanted[$0] == nil }) {
            throw ModelInputError(input: "rotations",
                                  reason: "'\(extra)' names no LSH layer; expected the keys \(wanted.keys.sorted().joined(separator: ", "))")
        }
        for (key, layer) in wanted.sorted(by: { $0.value < $1.value }) {
            guard let tensor = rotations[key] else {
                throw ModelInputError(input: "rotations", reason: "'\(key)' is missing: every LSH layer (\(wanted.keys.sorted().joined(separator: ", "))) needs its rotations")
            }
            guard tensor.shape == expected else {
                throw ModelInputError(input: "rotations", reason: "'\(key)' has shape \(tensor.shape), LSH layer \(layer) needs \(expected) "
                                      + "(heads, attention_head_size, num_hashes, num_buckets/2 summed over factors)")
            }
        }
        for (key, layer) in wanted {
            (blocks[layer].attention as! Reformer).attention.setRotations(rotations[key]!)
        }
    }

    /// The outputs of one forward pass.
    public struct Output {
        /// [batch, n, 2·hidden_size]: the reversible stack's output after the final LayerNorm.
        public let lastHiddenState: Tensor
        /// [batch, n, vocab_size].
        public let logits: Tensor
    }

    /// `last_hidden_state` and `logits` for token ids [batch][n]. `attentionMask[b][i]` false
    /// marks padding. Throws a ``ModelInputError`` naming the input for ids out of the
    /// vocabulary, rows of different lengths, a mask of the wrong shape, or a sequence whose
    /// padded length exceeds the positions (``ReformerModelConfiguration/contextLength``).
    public func callAsFunction(inputIDs: [[Int]], attentionMask: [[Bool]]? = nil) throws -> Output {
        let c = configuration
        let (batch, length) = try checkTokenRows(inputIDs, vocabularySize: c.vocabularySize, masks: [("attention_mask", attentionMask)])
        let padded = c.paddedLength(length)
        guard padded <= c.positionLimit else {
            let limit = c.axialPositions && c.positionLimit < c.maximumPositions
                ? "the \(c.positionLimit) positions of axial_pos_shape \(c.axialShape)" : "max_position_embeddings (\(c.maximumPositions))"
            let padding = padded > length ? " (padded to \(padded), a multiple of the chunk lengths)" : ""
            throw ModelInputError(input: "input_ids", reason: "\(length) tokens\(padding) exceed \(limit); at most \(c.contextLength) fit")
        }
        let tail = padded - length
        let ids = inputIDs.flatMap { $0 + Array(repeating: c.padTokenID, count: tail) }
        var keep = attentionMask ?? (tail > 0 ? Array(repeating: Array(repeating: true, count: length), count: batch) : nil)
        keep = keep.map { rows in rows.map { $0 + Array(repeating: false, count: tail) } }
        if let rows = keep, !rows.joined().contains(false) { keep = nil }
        let mask = AttentionMask(causal: c.isDecoder, keyPadding: keep)

        let positionTable = axialPositions.map { $0(count: padded) } ?? positions!.weight.value.sliced(alongAxis: 0, 0..<padded)
        let embedded = words(IndexTensor(ids, shape: [batch, padded])) + positionTable
        var hidden = reversibleTransformerStack(concatenate([embedded, embedded], alongAxis: 2), blocks: blocks, mask: mask)
        hidden = finalNorm(hidden)
        if tail > 0 { hidden = hidden.sliced(alongAxis: 1, 0..<length) }
        return Output(lastHiddenState: hidden, logits: head(hidden))
    }

    /// Samples `count` tokens after `prompt` (at least one token), each from the logits of the
    /// last position of the latest ``ReformerModelConfiguration/contextLength`` tokens (the whole
    /// window is recomputed per token). `candidates` restricts sampling to a range of ids (e.g.
    /// the byte ids); `temperature` 0 picks the most likely one; `topK` keeps only the k most likely.
    public func generate(prompt: [Int], count: Int, temperature: Float, topK: Int?, candidates: Range<Int>? = nil,
                         generator: inout RandomGenerator) throws -> [Int] {
        guard !prompt.isEmpty else { throw ModelInputError(input: "prompt", reason: "needs at least one token") }
        let vocabulary = configuration.vocabularySize
        let allowed = candidates.map { $0.clamped(to: 0..<vocabulary) } ?? 0..<vocabulary
        guard !allowed.isEmpty else { throw ModelInputError(input: "candidates", reason: "no id of \(candidates!) is in the vocabulary 0..<\(vocabulary)") }
        var tokens = prompt
        try withoutGradients {
            for _ in 0..<count {
                let window = Array(tokens.suffix(configuration.contextLength))
                let logits = try self(inputIDs: [window]).logits.scalars.suffix(vocabulary)
                let choices = Array(logits[(logits.startIndex + allowed.lowerBound)..<(logits.startIndex + allowed.upperBound)])
                tokens.append(allowed.lowerBound + sampleToken(choices, temperature: temperature, topK: topK, generator: &generator))
            }
        }
        return Array(tokens[prompt.count...])
    }
}
