import Foundation
import GlanceAttention
import GlanceNN

/// The character-level language model: a decoder-only Transformer over bytes (pre-LN blocks by
/// default, post-LN with `"block": "post-ln"`). Also the shape of ``TextClassifier``'s encoder
/// (`context` = bytes per document).
public struct LanguageModelConfiguration: StrictConfigurationSection, Equatable, Sendable {
    /// Vocabulary size (256 for bytes).
    public var vocabularySize = 256
    /// Tokens per training window, and the longest context the model reads.
    public var context = 256
    public var layers = 4
    public var modelDimensions = 256
    public var heads = 4
    /// Feed-forward width as a multiple of `modelDimensions`.
    public var feedForwardMultiplier = 4
    public var activation: Activation = .gelu
    /// Residual dropout on embeddings, attention output and feed-forward output.
    public var dropout: Float = 0
    /// The attention mechanism and its options (JSON `{"type": …, options…}`, or a bare name).
    public var attention = AttentionConfiguration.full
    /// Absolute positions added to the token embeddings: "learned", "sinusoidal" or "none"
    /// (``AbsolutePositions``); "none" with transformer_xl attention, whose relative term replaces them.
    public var positions = "learned"
    /// The blocks' normalization: "pre-ln" (before each sublayer) or "post-ln" (after each
    /// residual sum); reversible layers need "pre-ln".
    public var block: BlockNormalization = .preLN
    /// Reversible residual layers (Kitaev et al. 2020): the embeddings are duplicated to a pair (x1, x2)
    /// of width 2·d_model, each block maps it to (x1 + Attention(LN(x2)), x2 + FFN(LN(y1))), and
    /// the backward pass recomputes activations instead of storing them; the final LayerNorm and
    /// the head read the pair (2·d_model). The recomputation replays dropout masks and LSH sort
    /// orders, so gradients equal those of the stored computation.
    public var reversible = false
    /// Tied embeddings (GPT-2): the LM head's weight is the token embedding itself, one
    /// parameter trained through both uses and stored once (under `tokenEmbedding.weight`); the
    /// head keeps its own bias. Not with `reversible`, whose head reads 2·d_model features.
    public var tieEmbeddings = false
    /// Feed-forward positions processed at a time (Hugging Face's `chunk_size_feed_forward`;
    /// nil: all at once).
    public var feedForwardChunk: Int? = nil

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    /// A former model-level attention option: where it moved, shown with its value.
    public static func movedField(_ key: String, value: Any) -> String? {
        guard let (mechanism, option) = AttentionRegistry.formerOption(named: key) else { return nil }
        let json = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "…"
        return "moved into \"attention\": {\"type\": \"\(mechanism)\", \"\(option)\": \(json)}"
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabularySize = "vocab_size", context, layers, modelDimensions = "d_model", heads
        case feedForwardMultiplier = "ffn_multiplier", activation, dropout, attention, positions
        case reversible, feedForwardChunk = "chunk_size_feed_forward"
        case tieEmbeddings = "tie_embeddings"
        case block
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LanguageModelConfiguration()
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        context = try c.value(.context, default: d.context)
        layers = try c.value(.layers, default: d.layers)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        heads = try c.value(.heads, default: d.heads)
        feedForwardMultiplier = try c.value(.feedForwardMultiplier, default: d.feedForwardMultiplier)
        if c.contains(.activation) {
            let name = try c.decode(String.self, forKey: .activation)
            guard let value = Activation(rawValue: name) else {
                throw ConfigurationValueError(field: "model.activation", reason: "must be one of \(Activation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
            }
            activation = value
        }
        dropout = try c.value(.dropout, default: d.dropout)
        do {
            attention = try c.decodeIfPresent(AttentionConfiguration.self, forKey: .attention) ?? d.attention
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.attention.\(error.field)", reason: error.reason)
        }
        positions = try c.value(.positions, default: d.positions)
        block = try c.value(.block, default: d.block)
        reversible = try c.value(.reversible, default: d.reversible)
        feedForwardChunk = try c.decodeIfPresent(Int.self, forKey: .feedForwardChunk)
        tieEmbeddings = try c.value(.tieEmbeddings, default: d.tieEmbeddings)
    }

    /// What every attention layer shares; layer `layer` of `layers`, GPT-2's init.
    public func attentionShape(layer: Int = 0) -> AttentionShape {
        let std = TransformerBlock.initialStandardDeviation
        return AttentionShape(modelDimensions: modelDimensions, heads: heads, maximumLength: context, layers: layers, layer: layer,
                              standardDeviation: std, outputStandardDeviation: std / Float(2 * layers).squareRoot())
    }

    /// Checks every field, the attention's options included. Whether the mechanism can serve
    /// the model (a causal language model, a bidirectional classifier) is checked when the
    /// model builds its layers.
    public func validate() throws {
        func positive(_ value: Int, _ field: String) throws {
            if value < 1 { throw ConfigurationValueError(field: "model.\(field)", reason: "must be at least 1, got \(value)") }
        }
        try positive(vocabularySize, "vocab_size")
        try positive(context, "context")
        try positive(layers, "layers")
        try positive(heads, "heads")
        try positive(feedForwardMultiplier, "ffn_multiplier")
        try checkSizes()
        if modelDimensions < 1 || modelDimensions % heads != 0 {
            throw ConfigurationValueError(field: "model.d_model", reason: "must be a positive multiple of heads (\(heads)), got \(modelDimensions)")
        }
        if !(dropout >= 0 && dropout < 1) { throw ConfigurationValueError(field: "model.dropout", reason: "must be in [0, 1), got \(dropout)") }
        do {
            try attention.validate(for: attentionShape())
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.attention.\(error.field)", reason: error.reason)
        }
        if let feedForwardChunk { try positive(feedForwardChunk, "chunk_size_feed_forward") }
        if AbsolutePositions(rawValue: positions) == nil {
            throw ConfigurationValueError(field: "model.positions",
                                          reason: "must be one of \(AbsolutePositions.allCases.map(\.rawValue).joined(separator: ", ")), got '\(positions)'")
        }
        if attention.type == RelativeMultiHeadAttention.mechanismName && positions != AbsolutePositions.none.rawValue {
            throw ConfigurationValueError(field: "model.positions",
                                          reason: "must be 'none' with transformer_xl attention (its relative position term replaces absolute positions), got '\(positions)'")
        }
        if reversible && memoryLength > 0 {
            throw ConfigurationValueError(field: "model.reversible", reason: "cannot be used with a memory (transformer_xl's mem_len or adaptive_span's cache): the memory keeps each layer's input, a reversible stack has two")
        }
        if reversible && block == .postLN {
            throw ConfigurationValueError(field: "model.block", reason: "must be 'pre-ln' with reversible layers (each block's branches read LN of their input), got 'post-ln'")
        }
    }
}
