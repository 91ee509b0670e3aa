import Foundation
import GlanceNN

/// The fields of a Hugging Face `TransfoXLConfig` (config.json, `model_type` "transfo-xl") that
/// change what ``TransfoXLLanguageModel`` computes. Defaults are transformers 4.57.6's (the
/// transfo-xl-wt103 architecture); JSON keys are Hugging Face's and ``validate()`` names them.
///
/// Fields that would change the computation in a way Glance does not implement are errors:
/// `attn_type` other than 0, `sample_softmax` above 0, `ext_len` other than 0, and a legacy
/// `tie_weight` that disagrees with `tie_word_embeddings` (transformers reads only the latter).
/// The fields of ``ignoredFields`` (training settings, initialisation, bookkeeping) are read by
/// nothing; any other field is reported by ``unrecognizedFields(in:)``.
public struct TransfoXLConfiguration: PretrainedConfiguration, Equatable, Sendable {
    public var modelType = "transfo-xl"
    public var vocabularySize = 267_735
    public var cutoffs = [20_000, 40_000, 200_000]
    /// `d_model`: the width of the hidden states (and the adaptive embedding's `d_proj`).
    public var modelDimensions = 1024
    /// `d_embed`: the width of the head cluster's embedding vectors.
    public var embeddingDimensions = 1024
    public var heads = 16
    /// `d_head`: heads × d_head need not equal d_model.
    public var headDimensions = 64
    /// `d_inner`: the feed-forward's hidden width.
    public var innerDimensions = 4096
    /// `div_val`: cluster i's embedding width is d_embed / div_val^i.
    public var divisor = 4
    /// `pre_lnorm`: LayerNorm before each sublayer (true) or after each residual sum.
    public var preLayerNorm = false
    public var layers = 18
    /// `mem_len`: the hidden states each layer keeps for the next segment (0: no memory).
    public var memoryLength = 1600
    /// `clamp_len`: distances beyond it use its encoding (0: no clamping).
    public var clampLength = 1000
    /// `same_length`: every query sees the same number of keys (mem_len).
    public var sameLength = true
    /// `untie_r`: u and v per layer (true) or one pair for the model.
    public var untieBiases = true
    public var layerNormEpsilon: Float = 1e-5
    /// `tie_word_embeddings`: the adaptive softmax's output weights are the embedding tables.
    public var tieWordEmbeddings = true
    /// `tie_projs`: per cluster, whether the softmax uses the embedding's projection (default:
    /// all but the head's, as `proj_share_all_but_first` true gives).
    public var tieProjections = [false, true, true, true]
    /// `attn_type`; only 0 (relative partial learnable attention) exists in transformers 4.57.6.
    public var attentionType = 0
    public var sampleSoftmax = -1
    /// `ext_len` of older configs (extended context); only 0 is supported.
    public var extendedLength = 0
    /// `tie_weight` of older configs, when present.
    public var legacyTieWeight: Bool? = nil

    /// Fields of a transfo-xl config.json that do not change the forward pass and are ignored.
    public static let ignoredFields: Set<String> = [
        "adaptive", "dropout", "dropatt", "init", "init_range", "init_std", "proj_init_std", "proj_share_all_but_first", "tgt_len",
        "eos_token_id", "bos_token_id", "pad_token_id", "architectures", "dtype", "torch_dtype", "transformers_version",
        "task_specific_params", "output_hidden_states", "output_attentions", "return_dict", "use_return_dict", "torchscript",
        "trainer_compatible", "_name_or_path", "n_token", "id2label", "label2id", "use_cache",
    ]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelType = "model_type", vocabularySize = "vocab_size", cutoffs, modelDimensions = "d_model"
        case embeddingDimensions = "d_embed", heads = "n_head", headDimensions = "d_head", innerDimensions = "d_inner"
        case divisor = "div_val", preLayerNorm = "pre_lnorm", layers = "n_layer", memoryLength = "mem_len", clampLength = "clamp_len"
        case sameLength = "same_length", untieBiases = "untie_r", layerNormEpsilon = "layer_norm_epsilon"
        case tieWordEmbeddings = "tie_word_embeddings", tieProjections = "tie_projs", attentionType = "attn_type"
        case sampleSoftmax = "sample_softmax", extendedLength = "ext_len", legacyTieWeight = "tie_weight"
        case shareProjections = "proj_share_all_but_first"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TransfoXLConfiguration()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? ""
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        cutoffs = try c.value(.cutoffs, default: d.cutoffs)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        embeddingDimensions = try c.value(.embeddingDimensions, default: d.embeddingDimensions)
        heads = try c.value(.heads, default: d.heads)
        headDimensions = try c.value(.headDimensions, default: d.headDimensions)
        innerDimensions = try c.value(.innerDimensions, default: d.innerDimensions)
        divisor = try c.value(.divisor, default: d.divisor)
        preLayerNorm = try c.value(.preLayerNorm, default: d.preLayerNorm)
        layers = try c.value(.layers, default: d.layers)
        memoryLength = try c.value(.memoryLength, default: d.memoryLength)
        clampLength = try c.value(.clampLength, default: d.clampLength)
        sameLength = try c.value(.sameLength, default: d.sameLength)
        untieBiases = try c.value(.untieBiases, default: d.untieBiases)
        layerNormEpsilon = try c.value(.layerNormEpsilon, default: d.layerNormEpsilon)
        tieWordEmbeddings = try c.value(.tieWordEmbeddings, default: d.tieWordEmbeddings)
        let shareProjections = try c.value(.shareProjections, default: true)
        tieProjections = try c.value(.tieProjections, default: [false] + [Bool](repeating: shareProjections, count: cutoffs.count))
        attentionType = try c.value(.attentionType, default: d.attentionType)
        sampleSoftmax = try c.value(.sampleSoftmax, default: d.sampleSoftmax)
        extendedLength = try c.value(.extendedLength, default: d.extendedLength)
        legacyTieWeight = try c.decodeIfPresent(Bool.self, forKey: .legacyTieWeight)
    }

    /// The keys of a config.json object that are neither read (``CodingKeys``) nor known to be
    /// harmless (``ignoredFields``), sorted.
    public static func unrecognizedFields(in object: [String: Any]) -> [String] {
        let read = Set(CodingKeys.allCases.map(\.rawValue))
        return object.keys.filter { !read.contains($0) && !ignoredFields.contains($0) }.sorted()
    }

    /// ``unrecognizedFields(in:)`` of `folder`/config.json.
    public static func unrecognizedFields(inFolder folder: URL) throws -> [String] {
        unrecognizedFields(in: try PretrainedCheckpoint.jsonObject(at: folder.appendingPathComponent("config.json")))
    }

    /// The split of the vocabulary for the adaptive embedding and softmax.
    public func vocabulary() throws -> AdaptiveVocabulary {
        do {
            return try AdaptiveVocabulary(size: vocabularySize, cutoffs: cutoffs, divisor: divisor, embeddingDimensions: embeddingDimensions)
        } catch let error as AdaptiveVocabularyError {
            throw ConfigurationValueError(field: error.field, reason: error.reason)
        }
    }

    /// `clamp_len` as the attention takes it: nil for 0 (no clamping).
    public var clamp: Int? { clampLength > 0 ? clampLength : nil }

    /// Throws a ``ConfigurationValueError`` naming the first field that cannot work.
    public func validate() throws {
        guard modelType == "transfo-xl" else {
            throw ConfigurationValueError(field: "model_type", reason: modelType.isEmpty ? "is missing; this is not a Transformer-XL checkpoint"
                                                                                         : "is '\(modelType)', not 'transfo-xl': this checkpoint is another model")
        }
        _ = try vocabulary()
        for (field, value) in [("d_model", modelDimensions), ("n_head", heads), ("d_head", headDimensions), ("d_inner", innerDimensions),
                               ("n_layer", layers)] where value < 1 {
            throw ConfigurationValueError(field: field, reason: "must be at least 1, got \(value)")
        }
        guard modelDimensions % 2 == 0 else {
            throw ConfigurationValueError(field: "d_model", reason: "must be even for the sinusoidal relative encodings, got \(modelDimensions)")
        }
        for (field, value) in [("mem_len", memoryLength), ("clamp_len", clampLength)] where value < 0 {
            throw ConfigurationValueError(field: field, reason: "must be at least 0, got \(value)")
        }
        if sameLength && memoryLength < 1 {
            throw ConfigurationValueError(field: "mem_len", reason: "must be at least 1 with same_length (the keys each query sees), got \(memoryLength)")
        }
        guard layerNormEpsilon >= 0, layerNormEpsilon.isFinite else {
            throw ConfigurationValueError(field: "layer_norm_epsilon", reason: "must be a non-negative number, got \(layerNormEpsilon)")
        }
        guard tieProjections.count == cutoffs.count + 1 else {
            throw ConfigurationValueError(field: "tie_projs", reason: "needs one entry per cluster (\(cutoffs.count + 1): len(cutoffs) + 1), got \(tieProjections.count)")
        }
        guard attentionType == 0 else {
            throw ConfigurationValueError(field: "attn_type", reason: "is \(attentionType); only 0 (relative partial learnable attention) is supported")
        }
        guard sampleSoftmax <= 0 else {
            throw ConfigurationValueError(field: "sample_softmax", reason: "is \(sampleSoftmax); the sampled softmax is not supported (transformers neither)")
        }
        guard extendedLength == 0 else {
            throw ConfigurationValueError(field: "ext_len", reason: "is \(extendedLength); only 0 (no extended context) is supported")
        }
        if let legacyTieWeight, legacyTieWeight != tieWordEmbeddings {
            throw ConfigurationValueError(field: "tie_weight", reason: "is \(legacyTieWeight) but tie_word_embeddings is \(tieWordEmbeddings); "
                                          + "transformers reads only tie_word_embeddings: set it to what is meant")
        }
    }
}
