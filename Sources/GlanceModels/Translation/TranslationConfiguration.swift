import Foundation
import GlanceAttention
import GlanceNN

/// The kind of layer an encoder or a decoder stacks. Only the Transformer layer: Lite
/// Transformer's layers are Transformer layers whose `encoder_attention` and
/// `decoder_attention` are "lsra" and whose `ffn_dim` is `d_model` (the flattened feed-forward).
public enum TranslationBlockKind: String, Codable, CaseIterable, Sendable {
    /// Self-attention (+ cross-attention in the decoder) and a feed-forward, pre- or post-LN.
    case transformer
}

/// Which embeddings an encoder-decoder model shares (one joint vocabulary serves both languages).
public enum EmbeddingTying: String, Codable, CaseIterable, Sendable {
    /// Source embedding, target embedding and output projection are three matrices.
    case none
    /// The output projection is the target embedding (fairseq's share_decoder_input_output_embed).
    case decoder
    /// One matrix for the source and target embeddings and the output projection (share_all_embeddings).
    case all
}

/// The model section of a translation run: an encoder-decoder Transformer (Vaswani et al.
/// 2017) over one joint subword vocabulary. JSON keys are snake_case; unknown keys are rejected.
public struct TranslationConfiguration: StrictConfigurationSection, Equatable, Sendable {
    /// Ids of the joint vocabulary (the byte-pair encoding learns `vocab_size − 259` merges).
    public var vocabularySize = 8000
    /// Tokens a sentence may have, its end marker included (the target's beginning marker too):
    /// the positions the model numbers, and the longest translation beam search writes.
    public var maximumLength = 256
    public var encoderLayers = 6
    public var decoderLayers = 6
    public var modelDimensions = 512
    public var heads = 8
    /// The feed-forward's hidden width.
    public var feedForwardDimensions = 2048
    public var activation: Activation = .relu
    /// Dropout on embeddings and on each sublayer's output.
    public var dropout: Float = 0.1
    /// The encoder's self-attention: any mechanism of the registry that serves bidirectional
    /// attention with key padding (JSON `{"type": …, options…}` or a bare name).
    public var encoderAttention = AttentionConfiguration.full
    /// The decoder's causal self-attention: a mechanism that decodes incrementally with a cache
    /// beam search can reorder ("full" or "lsra" over full attention); cross-attention stays full.
    public var decoderAttention = AttentionConfiguration.full
    /// Where the layers normalize: "post-ln" (the original Transformer, fairseq's default) or "pre-ln".
    public var block: BlockNormalization = .postLN
    /// The layers the encoder and the decoder stack.
    public var encoderBlock: TranslationBlockKind = .transformer
    public var decoderBlock: TranslationBlockKind = .transformer
    /// Which embeddings are shared: "none", "decoder" or "all".
    public var tie: EmbeddingTying = .all

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabularySize = "vocab_size", maximumLength = "max_length", encoderLayers = "encoder_layers", decoderLayers = "decoder_layers"
        case modelDimensions = "d_model", heads, feedForwardDimensions = "ffn_dim", activation, dropout
        case encoderAttention = "encoder_attention", decoderAttention = "decoder_attention", block, encoderBlock = "encoder_block", decoderBlock = "decoder_block", tie
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TranslationConfiguration()
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        maximumLength = try c.value(.maximumLength, default: d.maximumLength)
        encoderLayers = try c.value(.encoderLayers, default: d.encoderLayers)
        decoderLayers = try c.value(.decoderLayers, default: d.decoderLayers)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        heads = try c.value(.heads, default: d.heads)
        feedForwardDimensions = try c.value(.feedForwardDimensions, default: d.feedForwardDimensions)
        activation = try Self.named(c, .activation, default: d.activation)
        dropout = try c.value(.dropout, default: d.dropout)
        encoderAttention = try Self.attention(c, .encoderAttention, default: d.encoderAttention)
        decoderAttention = try Self.attention(c, .decoderAttention, default: d.decoderAttention)
        block = try c.value(.block, default: d.block)
        encoderBlock = try Self.named(c, .encoderBlock, default: d.encoderBlock)
        decoderBlock = try Self.named(c, .decoderBlock, default: d.decoderBlock)
        tie = try Self.named(c, .tie, default: d.tie)
    }

    /// A mechanism field; its errors name the field and the option.
    private static func attention(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys,
                                  default fallback: AttentionConfiguration) throws -> AttentionConfiguration {
        do {
            return try c.decodeIfPresent(AttentionConfiguration.self, forKey: key) ?? fallback
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.\(key.rawValue).\(error.field)", reason: error.reason)
        }
    }

    /// A string field that must name a case of `Value`; anything else names the field and the choices.
    private static func named<Value: RawRepresentable & CaseIterable>(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys,
                                                                      default fallback: Value) throws -> Value where Value.RawValue == String {
        guard c.contains(key) else { return fallback }
        let name = try c.decode(String.self, forKey: key)
        guard let value = Value(rawValue: name) else {
            throw ConfigurationValueError(field: "model.\(key.rawValue)",
                                          reason: "must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
        }
        return value
    }

    /// The shape of every attention layer (layer `layer` of the encoder, or of the decoder
    /// when `decoder`), weights N(0, 0.02).
    public func attentionShape(layer: Int = 0, decoder: Bool = false) -> AttentionShape {
        let std = TransformerBlock.initialStandardDeviation
        return AttentionShape(modelDimensions: modelDimensions, heads: heads, maximumLength: maximumLength,
                              layers: decoder ? decoderLayers : encoderLayers, layer: layer, standardDeviation: std, outputStandardDeviation: std)
    }

    /// Checks every field, the encoder attention's options included.
    public func validate() throws {
        func positive(_ value: Int, _ field: String) throws {
            if value < 1 { throw ConfigurationValueError(field: "model.\(field)", reason: "must be at least 1, got \(value)") }
        }
        if vocabularySize < 259 {
            throw ConfigurationValueError(field: "model.vocab_size", reason: "must be at least 259 (3 specials and 256 bytes), got \(vocabularySize)")
        }
        try positive(encoderLayers, "encoder_layers")
        try positive(decoderLayers, "decoder_layers")
        try positive(heads, "heads")
        try positive(feedForwardDimensions, "ffn_dim")
        if maximumLength < 2 { throw ConfigurationValueError(field: "model.max_length", reason: "must be at least 2, got \(maximumLength)") }
        if modelDimensions < 2 || modelDimensions % heads != 0 || modelDimensions % 2 != 0 {
            throw ConfigurationValueError(field: "model.d_model", reason: "must be an even multiple of heads (\(heads)), got \(modelDimensions)")
        }
        if !(dropout >= 0 && dropout < 1) { throw ConfigurationValueError(field: "model.dropout", reason: "must be in [0, 1), got \(dropout)") }
        if activation == .glu { throw ConfigurationValueError(field: "model.activation", reason: "must be relu, gelu or silu, got 'glu'") }
        try checkSizes()
        for (attention, field, decoder) in [(encoderAttention, "encoder_attention", false), (decoderAttention, "decoder_attention", true)] {
            do {
                try attention.validate(for: attentionShape(decoder: decoder))
            } catch let error as AttentionConfigurationError {
                throw ConfigurationValueError(field: "model.\(field).\(error.field)", reason: error.reason)
            }
        }
    }

    /// Refuses sizes whose products overflow or whose tables cannot be allocated.
    private func checkSizes() throws {
        for (field, value) in [("vocab_size", vocabularySize), ("max_length", maximumLength), ("d_model", modelDimensions), ("ffn_dim", feedForwardDimensions),
                               ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers), ("heads", heads)]
        where value > 1 << 24 {
            throw ConfigurationValueError(field: "model.\(field)", reason: "must be at most \(1 << 24), got \(value)")
        }
    }

    /// Parameters of the model (embeddings counted once per distinct matrix).
    public var parameterCount: Int {
        let d = modelDimensions, f = feedForwardDimensions
        let attention = 4 * (d * d + d), feedForward = d * f + f + f * d + d, norm = 2 * d
        let encoder = encoderLayers * (attention + feedForward + 2 * norm) + norm
        let decoder = decoderLayers * (2 * attention + feedForward + 3 * norm) + norm
        let embeddings: Int = switch tie { case .none: 3; case .decoder: 2; case .all: 1 }
        return encoder + decoder + embeddings * vocabularySize * d
    }
}

extension TranslationConfiguration {
    /// One training step's memory: parameters with gradients and AdamW's two moments, and the
    /// activations of `microBatch` sentence pairs of `max_length` tokens (about 12 stored
    /// [length, d_model] tensors and one [heads, length, length] score tensor per layer, and the logits).
    public func trainingMemory(microBatch: Int, field: String) -> MemoryEstimate {
        var estimate = MemoryEstimate()
        estimate.add("parameters, gradients and optimizer state", [("model.d_model", modelDimensions), ("model.vocab_size", vocabularySize)],
                     bytesPerElement: 4 * 4 * 3)
        let layers = encoderLayers + decoderLayers
        estimate.add("layers' activations", [(field, microBatch), ("model.max_length", maximumLength), ("model.d_model", modelDimensions),
                                             ("layers", layers)], bytesPerElement: 4 * 16)
        estimate.add("attention scores", [(field, microBatch), ("model.heads", heads), ("model.max_length", maximumLength),
                                          ("model.max_length", maximumLength), ("layers", layers)], bytesPerElement: 4 * 3)
        estimate.add("logits", [(field, microBatch), ("model.max_length", maximumLength), ("model.vocab_size", vocabularySize)],
                     bytesPerElement: 4 * 3)
        return estimate
    }
}
