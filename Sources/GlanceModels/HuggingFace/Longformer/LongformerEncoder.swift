import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// A Longformer encoder (Beltagy et al. 2020) as Hugging Face transformers builds it
/// (`LongformerModel` without the pooler): RoBERTa embeddings, then post-LN layers of
/// Longformer self-attention and a GELU feed-forward block. Loads a Hugging Face model folder
/// (config.json + model.safetensors) and gives its `last_hidden_state`.
///
/// - Embeddings: word + position + token type (all type 0), LayerNorm. Position ids are
///   RoBERTa's: padding tokens (`pad_token_id`) get `pad_token_id`, the others count up from
///   `pad_token_id + 1`; a sequence of n tokens needs `max_position_embeddings ≥ n + 2`.
/// - Layer: h = LN(x + dense(attention(x))), out = LN(h + W₂·act(W₁·h)).
/// - Attention: ``Longformer`` with the layer's `attention_window`; no padding to a multiple
///   of the window (exact edges give what transformers' padded computation gives).
/// - Dropout is not applied (inference, and `eval()` training-free use).
public final class LongformerEncoder: Module {
    public let configuration: LongformerModelConfiguration
    public let embeddings: LongformerEmbeddings
    public let layers: [LongformerLayer]

    /// A fresh encoder: weights from N(0, 0.02²) drawn with `seed`, biases zero, LayerNorms the identity.
    public convenience init(configuration c: LongformerModelConfiguration, seed: UInt64 = 0) throws {
        var weights = RandomWeights(generator: RandomGenerator(seed: seed), standardDeviation: 0.02)
        try self.init(configuration: c, weights: &weights)
    }

    init(configuration c: LongformerModelConfiguration, weights: inout some PretrainedWeights) throws {
        try c.validate()
        configuration = c
        embeddings = LongformerEmbeddings(c, weights: &weights)
        layers = try (0..<c.layers).map { try LongformerLayer(c, layer: $0, weights: &weights) }
        super.init()
    }

    /// Reads a Hugging Face model folder: config.json (`model_type` "longformer") and
    /// model.safetensors (keys of `LongformerModel`, or of a task model whose encoder sits
    /// under `longformer.`; heads and the pooler are ignored). The layers are built around the
    /// file's tensors, which use the mapped file in place (``SafeTensors/read(from:skipping:)``):
    /// nothing is drawn at random, nothing copied.
    public static func load(folder: URL) throws -> LongformerEncoder {
        let configuration = try PretrainedCheckpoint.configuration(LongformerModelConfiguration.self, in: folder)
        let (weightsURL, tensors) = try PretrainedCheckpoint.weights(in: folder) { isIgnored(huggingFaceKey: $0) }
        let model: LongformerEncoder
        do {
            let values = try sanitize(tensors, layers: configuration.layers)
            var weights = CheckpointWeights(tensors: values)
            model = try LongformerEncoder(configuration: configuration, weights: &weights)
            try model.update(parameters: values)
        } catch let error as ParameterLoadingError {
            throw CheckpointError.incompatible(path: weightsURL.path, reason: error.description)
        }
        model.eval()
        return model
    }

    /// Whether a Hugging Face key is one the encoder does not use: the pooler, a task head, the
    /// position-id buffer.
    static func isIgnored(huggingFaceKey key: String) -> Bool {
        let key = key.hasPrefix("longformer.") ? String(key.dropFirst("longformer.".count)) : key
        return key == "embeddings.position_ids" || ["pooler.", "lm_head.", "classifier.", "qa_outputs."].contains(where: { key.hasPrefix($0) })
    }

    /// Hugging Face keys → Glance keys; drops the pooler, task heads and buffers.
    public static func sanitize(_ tensors: [String: Tensor], layers: Int) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        let renames = [("attention.self.query_global.", "attention.queryGlobal."), ("attention.self.key_global.", "attention.keyGlobal."),
                       ("attention.self.value_global.", "attention.valueGlobal."), ("attention.self.", "attention."),
                       ("attention.output.dense.", "attention.output."), ("attention.output.LayerNorm.", "attentionNorm."),
                       ("intermediate.dense.", "intermediate."), ("output.dense.", "output."), ("output.LayerNorm.", "outputNorm.")]
        let embeddingNames = ["word_embeddings.": "words.", "position_embeddings.": "positions.",
                              "token_type_embeddings.": "tokenTypes.", "LayerNorm.": "norm."]
        for (original, tensor) in tensors where !isIgnored(huggingFaceKey: original) {
            var key = original
            if key.hasPrefix("longformer.") { key.removeFirst("longformer.".count) }
            if key.hasPrefix("embeddings.") {
                let rest = String(key.dropFirst("embeddings.".count))
                guard let (from, to) = embeddingNames.first(where: { rest.hasPrefix($0.key) }) else { result[key] = tensor; continue }
                result["embeddings." + to + rest.dropFirst(from.count)] = tensor
            } else if key.hasPrefix("encoder.layer.") {
                let rest = key.dropFirst("encoder.layer.".count)
                guard let dot = rest.firstIndex(of: "."), Int(rest[..<dot]) != nil else { result[key] = tensor; continue }
                let index = rest[..<dot], tail = String(rest[rest.index(after: dot)...])
                guard let (from, to) = renames.first(where: { tail.hasPrefix($0.0) }) else { result[key] = tensor; continue }
                result["layers.\(index)." + to + tail.dropFirst(from.count)] = tensor
            } else {
                result[key] = tensor
            }
        }
        return result
    }

    /// `last_hidden_state` [batch, n, hidden] for token ids [batch][n]. `attentionMask[b][i]`
    /// false marks padding; `globalAttention[b][i]` true a global token (Hugging Face's
    /// `global_attention_mask`). Throws, naming the input, for ids out of the vocabulary,
    /// sequences longer than the position table, or masks of the wrong shape.
    public func callAsFunction(inputIDs: [[Int]], attentionMask: [[Bool]]? = nil, globalAttention: [[Bool]]? = nil) throws -> Tensor {
        let c = configuration
        let length = try checkTokenRows(inputIDs, vocabularySize: c.vocabularySize,
                                        masks: [("attention_mask", attentionMask), ("global_attention", globalAttention)]).length
        guard length + c.padTokenID < c.maximumPositions else {
            throw ModelInputError(input: "input_ids",
                                  reason: "\(length) tokens need position ids up to \(length + c.padTokenID), but the model has max_position_embeddings = \(c.maximumPositions)")
        }
        let keep = attentionMask.flatMap { rows in rows.allSatisfy { !$0.contains(false) } ? nil : rows }
        let mask = AttentionMask(keyPadding: keep)
        var x = embeddings(inputIDs: inputIDs, padTokenID: c.padTokenID)
        for layer in layers { x = layer(x, mask: mask, globalAttention: globalAttention) }
        return x
    }
}

/// Word, position and token-type embeddings with a LayerNorm (Hugging Face `LongformerEmbeddings`).
public final class LongformerEmbeddings: Module {
    public let words: Embedding
    public let positions: Embedding
    public let tokenTypes: Embedding
    public let norm: LayerNorm

    init(_ c: LongformerModelConfiguration, weights: inout some PretrainedWeights) {
        words = weights.embedding("embeddings.words.", count: c.vocabularySize, dimensions: c.hiddenSize)
        positions = weights.embedding("embeddings.positions.", count: c.maximumPositions, dimensions: c.hiddenSize)
        tokenTypes = weights.embedding("embeddings.tokenTypes.", count: c.typeVocabularySize, dimensions: c.hiddenSize)
        norm = LayerNorm(dimensions: c.hiddenSize, epsilon: c.layerNormEpsilon)
        super.init()
    }

    /// RoBERTa position ids: `pad` for padding tokens, `pad + 1 + (non-pad tokens before)` otherwise.
    public static func positionIDs(_ ids: [Int], padTokenID pad: Int) -> [Int] {
        var count = 0
        return ids.map { id in
            guard id != pad else { return pad }
            count += 1
            return pad + count
        }
    }

    func callAsFunction(inputIDs: [[Int]], padTokenID: Int) -> Tensor {
        let (batch, length) = (inputIDs.count, inputIDs[0].count)
        let ids = IndexTensor(inputIDs.flatMap { $0 }, shape: [batch, length])
        let positionIDs = IndexTensor(inputIDs.flatMap { Self.positionIDs($0, padTokenID: padTokenID) }, shape: [batch, length])
        let types = IndexTensor(Array(repeating: 0, count: batch * length), shape: [batch, length])
        return norm(words(ids) + positions(positionIDs) + tokenTypes(types))
    }
}

/// One post-LN Longformer layer (Hugging Face `LongformerLayer`).
public final class LongformerLayer: Module {
    /// Self-attention with its output dense layer (`attention.self` and `attention.output.dense`).
    public let attention: Longformer
    public let attentionNorm: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    public let outputNorm: LayerNorm
    public let activation: Activation

    init(_ c: LongformerModelConfiguration, layer: Int, weights: inout some PretrainedWeights) throws {
        let key = "layers.\(layer).", d = c.hiddenSize
        // In the order Longformer(modelDimensions:…) draws them: local Q, K, V, output, then global Q, K, V.
        let (query, keys, value) = (weights.linear(key + "attention.query.", d, d), weights.linear(key + "attention.key.", d, d),
                                    weights.linear(key + "attention.value.", d, d))
        let output = weights.linear(key + "attention.output.", d, d)
        let global = (query: weights.linear(key + "attention.queryGlobal.", d, d), key: weights.linear(key + "attention.keyGlobal.", d, d),
                      value: weights.linear(key + "attention.valueGlobal.", d, d))
        attention = try Longformer(query: query, key: keys, value: value, output: output, global: global, heads: c.heads,
                                   attentionWindow: c.attentionWindow(layer: layer))
        attentionNorm = LayerNorm(dimensions: c.hiddenSize, epsilon: c.layerNormEpsilon)
        intermediate = weights.linear(key + "intermediate.", d, c.intermediateSize)
        self.output = weights.linear(key + "output.", c.intermediateSize, d)
        outputNorm = LayerNorm(dimensions: c.hiddenSize, epsilon: c.layerNormEpsilon)
        activation = try c.activation()
        super.init()
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask, globalAttention: [[Bool]]?) -> Tensor {
        let h = attentionNorm(x + attention.attend(x, context: AttentionContext(mask: mask, globalTokens: globalAttention)).output)
        return outputNorm(h + output(activation(intermediate(h))))
    }
}

/// The fields of a Hugging Face `LongformerConfig` (config.json) that the encoder uses;
/// other fields are ignored. Defaults are transformers 5.24.0's.
public struct LongformerModelConfiguration: PretrainedConfiguration, Codable, Equatable, Sendable {
    public var modelType: String
    public var vocabularySize = 30522
    public var hiddenSize = 768
    public var layers = 12
    public var heads = 12
    public var intermediateSize = 3072
    public var hiddenActivation = "gelu"
    public var maximumPositions = 512
    public var typeVocabularySize = 2
    public var layerNormEpsilon: Float = 1e-12
    public var padTokenID = 1
    /// `attention_window`: one value for all layers or one per layer (2w each, even).
    public var attentionWindow: PerLayerValue = .all(512)

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabularySize = "vocab_size", hiddenSize = "hidden_size", layers = "num_hidden_layers"
        case heads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenActivation = "hidden_act"
        case maximumPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size", layerNormEpsilon = "layer_norm_eps"
        case padTokenID = "pad_token_id", attentionWindow = "attention_window"
    }

    public init(modelType: String = "longformer") { self.modelType = modelType }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LongformerModelConfiguration()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? ""
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? d.vocabularySize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? d.layers
        heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? d.heads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? d.hiddenActivation
        maximumPositions = try c.decodeIfPresent(Int.self, forKey: .maximumPositions) ?? d.maximumPositions
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? d.typeVocabularySize
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        padTokenID = try c.decodeIfPresent(Int.self, forKey: .padTokenID) ?? d.padTokenID
        attentionWindow = try c.decodeIfPresent(PerLayerValue.self, forKey: .attentionWindow) ?? d.attentionWindow
    }

    public func attentionWindow(layer: Int) -> Int { attentionWindow.value(layer: layer) }

    /// The feed-forward activation of `hidden_act`.
    func activation() throws -> Activation { try huggingFaceActivation(named: hiddenActivation) }

    public func validate() throws {
        guard modelType == "longformer" else {
            throw ConfigurationValueError(field: "model_type",
                                          reason: modelType.isEmpty ? "is missing; this is not a Longformer checkpoint"
                                                                    : "is '\(modelType)', not 'longformer': this checkpoint is another model")
        }
        for (field, value) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("num_hidden_layers", layers),
                               ("num_attention_heads", heads), ("intermediate_size", intermediateSize),
                               ("max_position_embeddings", maximumPositions), ("type_vocab_size", typeVocabularySize)] where value < 1 {
            throw ConfigurationValueError(field: field, reason: "must be at least 1, got \(value)")
        }
        guard hiddenSize % heads == 0 else {
            throw ConfigurationValueError(field: "hidden_size", reason: "\(hiddenSize) is not a multiple of num_attention_heads (\(heads))")
        }
        guard padTokenID >= 0 && padTokenID < vocabularySize else {
            throw ConfigurationValueError(field: "pad_token_id", reason: "\(padTokenID) is outside the vocabulary 0..<\(vocabularySize)")
        }
        if case let .perLayer(values) = attentionWindow, values.count != layers {
            throw ConfigurationValueError(field: "attention_window", reason: "needs one value or one per layer (\(layers)), got \(values.count)")
        }
        if let bad = attentionWindow.values.first(where: { $0 < 2 || $0 % 2 != 0 }) {
            throw ConfigurationValueError(field: "attention_window", reason: "must be a positive even number, got \(bad)")
        }
        _ = try activation()
    }
}
