import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// How a first segment starts when no memories are given.
public enum TransfoXLMemoryStart: String, CaseIterable, Sendable {
    /// Hugging Face's: `mem_len` zero vectors per layer, which the first segment attends to.
    case zeros
    /// The authors' (kimiyoung/transformer-xl): no memory at all.
    case empty
}

/// A Transformer-XL language model (Dai et al. 2019) as Hugging Face transformers 4.57.6 builds
/// it (`TransfoXLLMHeadModel`). Loads a Hugging Face model folder (config.json + model.safetensors)
/// and gives the log-probabilities of every token and the memories of the next segment.
///
/// - Input: ``AdaptiveEmbedding`` (`transformer.word_emb`); dropout is not applied (inference).
/// - Layers: ``TransformerBlock``s with ``RelativeMultiHeadAttention`` (`dec_attn`: `qkv_net`,
///   `r_net`, `o_net`, u = `r_w_bias`, v = `r_r_bias`, per layer or, with `untie_r` false, one pair
///   for all) and a ReLU feed-forward (`pos_ff`), post-LN or pre-LN (`pre_lnorm`). Layer l attends
///   causally over [memory l; its input] with the sinusoidal encodings of distances
///   M + n − 1 … 0, clamped at `clamp_len`, and with `same_length` each query sees `mem_len` keys.
/// - Memory: layer l's next memory is the last `mem_len` positions of [memory l; layer l's
///   input] (layer 0's input is the embedding output), without gradient, as Hugging Face's
///   `_update_mems` (`ext_len` 0).
/// - Output: ``AdaptiveSoftmax`` (`crit`), its output weights and projections tied to the
///   embedding as `tie_word_embeddings` and `tie_projs` say.
public final class TransfoXLLanguageModel: Module {
    public let configuration: TransfoXLConfiguration
    public let embedding: AdaptiveEmbedding
    /// The u and v of every layer when `untie_r` is false (`transformer.r_w_bias`, `transformer.r_r_bias`), else nil.
    public let contentBias: Parameter?
    public let positionBias: Parameter?
    public let blocks: [TransformerBlock]
    public let softmax: AdaptiveSoftmax

    /// Builds the model of `c` with placeholder weights drawn from `seed` (load real ones with
    /// ``load(folder:)``). Throws a ``ConfigurationValueError`` naming the field that cannot work.
    public init(configuration c: TransfoXLConfiguration, seed: UInt64 = 0) throws {
        try c.validate()
        configuration = c
        var generator = RandomGenerator(seed: seed)
        let vocabulary = try c.vocabulary()
        let input = AdaptiveEmbedding(vocabulary: vocabulary, outputDimensions: c.modelDimensions, generator: &generator)
        let shared = c.untieBiases ? nil : (
            content: Parameter(.randomNormal(shape: [c.heads, c.headDimensions], standardDeviation: 0.02, generator: &generator)),
            position: Parameter(.randomNormal(shape: [c.heads, c.headDimensions], standardDeviation: 0.02, generator: &generator)))
        blocks = try (0..<c.layers).map { _ in
            let attention = try RelativeMultiHeadAttention(modelDimensions: c.modelDimensions, heads: c.heads, headDimensions: c.headDimensions,
                                                           clampLength: c.clamp, sameLength: c.sameLength ? c.memoryLength : nil,
                                                           standardDeviation: 0.02, sharedBiases: shared, generator: &generator)
            let feedForward = FeedForward(dimensions: c.modelDimensions, hiddenDimensions: c.innerDimensions, activation: .relu,
                                          standardDeviation: 0.02, generator: &generator)
            return TransformerBlock(attention: attention, feedForward: feedForward, dropout: 0, source: RandomSource(seed: seed),
                                    normEpsilon: c.layerNormEpsilon, normalization: c.preLayerNorm ? .preLN : .postLN)
        }
        softmax = AdaptiveSoftmax(vocabulary: vocabulary, inputDimensions: c.modelDimensions, tiedTo: input, tyingWeights: c.tieWordEmbeddings,
                                  tyingProjections: c.tieProjections, generator: &generator)
        embedding = input
        (contentBias, positionBias) = (shared?.content, shared?.position)
        super.init()
        eval()
    }

    /// Reads a Hugging Face model folder: config.json (`model_type` "transfo-xl") and
    /// model.safetensors (keys of `TransfoXLLMHeadModel`). Errors (``PretrainedCheckpointError``)
    /// name the file and the config field or the Hugging Face weight keys at fault.
    public static func load(folder: URL) throws -> TransfoXLLanguageModel {
        let configuration = try PretrainedCheckpoint.configuration(TransfoXLConfiguration.self, in: folder)
        let model = try TransfoXLLanguageModel(configuration: configuration)
        let (weightsURL, tensors) = try PretrainedCheckpoint.weights(in: folder)
        try model.update(parameters: try model.parameters(fromHuggingFace: tensors, path: weightsURL.path))
        return model
    }

    /// Hugging Face's key of a parameter of this model (`blocks.1.attention.queryKeyValue.weight`
    /// → `transformer.layers.1.dec_attn.qkv_net.weight`, `softmax.outputs.2.bias` → `crit.out_layers.2.bias`).
    public static func huggingFaceKey(for key: String) -> String {
        let top = [("embedding.tables.", "transformer.word_emb.emb_layers."), ("embedding.projections.", "transformer.word_emb.emb_projs."),
                   ("contentBias", "transformer.r_w_bias"), ("positionBias", "transformer.r_r_bias"),
                   ("softmax.outputs.", "crit.out_layers."), ("softmax.projections.", "crit.out_projs."),
                   ("softmax.clusterWeight", "crit.cluster_weight"), ("softmax.clusterBias", "crit.cluster_bias")]
        let inBlock = [("attentionNorm.", "dec_attn.layer_norm."), ("attention.queryKeyValue.", "dec_attn.qkv_net."),
                       ("attention.position.", "dec_attn.r_net."), ("attention.output.", "dec_attn.o_net."),
                       ("attention.contentBias", "dec_attn.r_w_bias"), ("attention.positionBias", "dec_attn.r_r_bias"),
                       ("feedForwardNorm.", "pos_ff.layer_norm."), ("feedForward.input.", "pos_ff.CoreNet.0."),
                       ("feedForward.output.", "pos_ff.CoreNet.3.")]
        return GlanceModels.huggingFaceKey(for: key, top: top, inBlock: inBlock, layers: "transformer.layers.")
    }

    /// Hugging Face tensors that loading skips: the sinusoid's frequencies, a buffer that
    /// save_pretrained writes and the encodings recompute.
    static func isIgnored(huggingFaceKey key: String) -> Bool { key == "transformer.pos_emb.inv_freq" }

    /// This model's parameter values from a Hugging Face checkpoint's tensors. A shared parameter
    /// (tied output weights and projections, u and v with `untie_r` false) may be stored under
    /// any of its keys (as save_pretrained writes it, under the embedding's or the model's), or
    /// under several with equal values. Throws a ``PretrainedCheckpointError`` naming Hugging
    /// Face's keys: missing tensors, unexpected ones, shape mismatches and copies that differ.
    public func parameters(fromHuggingFace tensors: [String: Tensor], path: String) throws -> [String: Tensor] {
        var sources: [String: [String]] = [:]
        for (alias, key) in parameterAliases() { sources[key, default: []].append(Self.huggingFaceKey(for: alias)) }
        var values: [String: Tensor] = [:], missing: [String] = [], used: Set<String> = []
        for (key, parameter) in namedParameters() {
            let candidates = [Self.huggingFaceKey(for: key)] + (sources[key] ?? []).sorted()
            let present = candidates.filter { tensors[$0] != nil }
            guard let first = present.first else { missing.append(candidates[0]); continue }
            for source in present where tensors[source]!.shape != parameter.shape {
                throw PretrainedCheckpointError.mismatchedWeight(path: path, key: source, expected: parameter.shape, found: tensors[source]!.shape)
            }
            if let differing = present.first(where: { tensors[$0]!.scalars != tensors[first]!.scalars }) {
                throw PretrainedCheckpointError.differingCopies(path: path, keys: [first, differing])
            }
            values[key] = tensors[first]
            used.formUnion(present)
        }
        guard missing.isEmpty else { throw PretrainedCheckpointError.missingWeights(path: path, keys: missing.sorted()) }
        let unexpected = tensors.keys.filter { !used.contains($0) && !Self.isIgnored(huggingFaceKey: $0) }.sorted()
        guard unexpected.isEmpty else { throw PretrainedCheckpointError.unexpectedWeights(path: path, keys: unexpected) }
        return values
    }

    /// The outputs of one segment.
    public struct Output {
        /// [batch, n, vocab_size]: log-probabilities of the next token at each position (Hugging Face's `prediction_scores`).
        public let logProbabilities: Tensor
        /// [batch, n, d_model]: the last layer's output.
        public let lastHiddenState: Tensor
        /// Per layer, the memory for the next segment, [batch, ≤ mem_len, d_model] (empty when mem_len is 0).
        public let memories: [Tensor]
    }

    /// The memories a first segment of `batch` rows starts from: `mem_len` zeros per layer
    /// (``TransfoXLMemoryStart/zeros``, none when mem_len is 0) or none (``TransfoXLMemoryStart/empty``).
    public func initialMemories(batch: Int, start: TransfoXLMemoryStart) -> [Tensor] {
        guard start == .zeros, configuration.memoryLength > 0 else { return [] }
        return Array(repeating: Tensor.zeros([batch, configuration.memoryLength, configuration.modelDimensions]), count: blocks.count)
    }

    /// One segment of token ids [batch][n] after `memories` (one [batch, M, d_model] per layer,
    /// from an earlier ``Output``; nil: a first segment, started as `start` says). Throws a
    /// ``ModelInputError`` for ids outside the vocabulary, rows of different lengths, or
    /// memories of the wrong count or shape.
    public func callAsFunction(inputIDs: [[Int]], memories: [Tensor]? = nil, start: TransfoXLMemoryStart = .zeros) throws -> Output {
        let (hidden, next) = try hiddenStates(inputIDs: inputIDs, memories: memories, start: start)
        return Output(logProbabilities: softmax.logProbabilities(hidden), lastHiddenState: hidden, memories: next)
    }

    /// The mean negative log-likelihood of each row's tokens 1..<n given those before (Hugging
    /// Face's loss with `labels` = `input_ids`), after `memories` as in ``callAsFunction(inputIDs:memories:start:)``.
    public func loss(inputIDs: [[Int]], memories: [Tensor]? = nil, start: TransfoXLMemoryStart = .zeros) throws -> Tensor {
        guard let length = inputIDs.first?.count, length >= 2 else {
            throw ModelInputError(input: "input_ids", reason: "needs at least 2 tokens per row to predict one")
        }
        let (hidden, _) = try hiddenStates(inputIDs: inputIDs, memories: memories, start: start)
        let predicting = hidden.sliced(alongAxis: 1, 0..<length - 1)
        return softmax.negativeLogLikelihood(predicting, targets: inputIDs.flatMap { $0.dropFirst() }).mean()
    }

    /// The last layer's output and the next memories.
    private func hiddenStates(inputIDs: [[Int]], memories: [Tensor]?, start: TransfoXLMemoryStart) throws -> (Tensor, [Tensor]) {
        let c = configuration
        let (batch, length) = try checkTokenRows(inputIDs, vocabularySize: c.vocabularySize, masks: [])
        let memories = memories ?? initialMemories(batch: batch, start: start)
        try checkMemories(memories, batch: batch)
        let remembered = memories.first?.shape[1] ?? 0
        let encodings = transformerXLRelativeEncodings(keys: remembered + length, dimensions: c.modelDimensions)
        var hidden = embedding(IndexTensor(inputIDs.flatMap { $0 }, shape: [batch, length]))
        var next: [Tensor] = []
        for (layer, block) in blocks.enumerated() {
            let memory = memories.isEmpty ? nil : memories[layer]
            if c.memoryLength > 0 { next.append(lastStates(of: memory, then: hidden)) }
            hidden = block.forward(hidden, context: AttentionContext(mask: .causal, memory: memory, relativePositions: encodings)).output
        }
        return (hidden, next)
    }

    /// Memories are none or one [batch, M, d_model] per layer, all of one length.
    private func checkMemories(_ memories: [Tensor], batch: Int) throws {
        guard !memories.isEmpty else { return }
        let d = configuration.modelDimensions
        guard memories.count == blocks.count else {
            throw ModelInputError(input: "mems", reason: "needs one memory per layer (\(blocks.count)), got \(memories.count)")
        }
        let length = memories[0].rank == 3 ? memories[0].shape[1] : -1
        if let (layer, bad) = memories.enumerated().first(where: { $0.element.shape != [batch, length, d] }) {
            throw ModelInputError(input: "mems", reason: "layer \(layer)'s memory has shape \(bad.shape); every layer needs [\(batch), M, \(d)] with one M")
        }
    }

    /// The last `mem_len` positions of [memory; states], without gradient.
    private func lastStates(of memory: Tensor?, then states: Tensor) -> Tensor {
        withoutGradients {
            let all = memory.map { concatenate([$0, states], alongAxis: 1) } ?? states
            let count = all.shape[1]
            return all.sliced(alongAxis: 1, Swift.max(0, count - configuration.memoryLength)..<count).detached()
        }
    }
}
