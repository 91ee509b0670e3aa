import Foundation
import GlanceAttention
import GlanceNN

/// The character-level language model: a pre-LN decoder-only Transformer over bytes. Also the
/// shape of ``TextClassifier``'s encoder (`context` = bytes per document).
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
    /// Attention mechanism, by registry name.
    public var attention = "full"
    /// Absolute positions added to the token embeddings: "learned", "sinusoidal" or "none"
    /// (``AbsolutePositions``).
    public var positions = "learned"
    /// The blocks' normalization: "pre-ln" (before each sublayer) or "post-ln" (after each
    /// residual sum); reversible layers need "pre-ln".
    public var block: BlockNormalization = .preLN
    /// Performer: random features m (nil: ⌊d·ln d⌋ for head dimensions d).
    public var performerFeatures: Int? = nil
    /// Performer: "softmax" or "relu" (nil: "softmax").
    public var performerKernel: String? = nil
    /// Performer: redraw the random features every this many training steps (nil: never).
    public var performerRedrawEvery: Int? = nil
    /// Linformer: projected length k (nil: min(256, context)). The char-LM is causal and
    /// Linformer is not, so it rejects `"attention": "linformer"`; ``TextClassifier`` accepts it.
    public var linformerK: Int? = nil
    /// Linformer: projection sharing, none, headwise, key-value or layerwise (nil: headwise).
    public var linformerSharing: String? = nil
    /// LogSparse: kernel size of the causal query/key convolutions (nil: 1).
    public var queryKeyKernel: Int? = nil
    /// LogSparse: local window, earlier positions seen densely (nil: 0).
    public var logSparseWindow: Int? = nil
    /// LogSparse: restart (sub-sequence) length (nil: no restarts).
    public var logSparseSubsequence: Int? = nil
    /// Reformer: LSH hash rounds (nil: 1).
    public var lshHashes: Int? = nil
    /// Reformer: chunk length of the sorted sequence (nil: 64).
    public var lshChunkLength: Int? = nil
    /// Reformer: neighbouring chunks each chunk attends to (nil: 1 before, 0 after).
    public var lshChunksBefore: Int? = nil
    public var lshChunksAfter: Int? = nil
    /// Reformer: buckets, one even count or even factors (JSON: a number or a list; nil:
    /// Hugging Face's choice for `context`).
    public var buckets: [Int]? = nil
    /// Reformer: seed of the random rotations (nil: drawn from the model's seed).
    public var hashSeed: UInt64? = nil
    /// Reversible residual layers (Reformer): the embeddings are duplicated to a pair (x1, x2)
    /// of width 2·d_model, each block maps it to (x1 + Attention(LN(x2)), x2 + FFN(LN(y1))), and
    /// the backward pass recomputes activations instead of storing them; the final LayerNorm and
    /// the head read the pair (2·d_model). The recomputation replays dropout masks and LSH sort
    /// orders, so gradients equal those of the stored computation.
    public var reversible = false
    /// Feed-forward positions processed at a time (Hugging Face's `chunk_size_feed_forward`;
    /// nil: all at once).
    public var feedForwardChunk: Int? = nil
    /// Longformer: Hugging Face's `attention_window` (2w, even), for all layers or per layer (nil: 512).
    public var attentionWindow: PerLayerValue? = nil
    /// Longformer: dilation, for all heads, per head, or per layer and head (nil: 1).
    public var attentionDilation: DilationSetting? = nil

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabularySize = "vocab_size", context, layers, modelDimensions = "d_model", heads
        case feedForwardMultiplier = "ffn_multiplier", activation, dropout, attention, positions
        case performerFeatures = "performer_features", performerKernel = "performer_kernel", performerRedrawEvery = "performer_redraw_every"
        case linformerK = "linformer_k", linformerSharing = "linformer_sharing"
        case queryKeyKernel = "qk_kernel", logSparseWindow = "logsparse_window", logSparseSubsequence = "logsparse_subsequence"
        case lshHashes = "lsh_num_hashes", lshChunkLength = "lsh_chunk_length", lshChunksBefore = "lsh_num_chunks_before"
        case lshChunksAfter = "lsh_num_chunks_after", buckets = "num_buckets", hashSeed = "hash_seed"
        case attentionWindow = "attention_window", attentionDilation = "attention_dilation"
        case reversible, feedForwardChunk = "chunk_size_feed_forward"
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
        attention = try c.value(.attention, default: d.attention)
        positions = try c.value(.positions, default: d.positions)
        block = try c.value(.block, default: d.block)
        performerFeatures = try c.decodeIfPresent(Int.self, forKey: .performerFeatures)
        performerKernel = try c.decodeIfPresent(String.self, forKey: .performerKernel)
        performerRedrawEvery = try c.decodeIfPresent(Int.self, forKey: .performerRedrawEvery)
        linformerK = try c.decodeIfPresent(Int.self, forKey: .linformerK)
        linformerSharing = try c.decodeIfPresent(String.self, forKey: .linformerSharing)
        attentionWindow = try c.decodeIfPresent(PerLayerValue.self, forKey: .attentionWindow)
        attentionDilation = try c.decodeIfPresent(DilationSetting.self, forKey: .attentionDilation)
        queryKeyKernel = try c.decodeIfPresent(Int.self, forKey: .queryKeyKernel)
        logSparseWindow = try c.decodeIfPresent(Int.self, forKey: .logSparseWindow)
        logSparseSubsequence = try c.decodeIfPresent(Int.self, forKey: .logSparseSubsequence)
        lshHashes = try c.decodeIfPresent(Int.self, forKey: .lshHashes)
        lshChunkLength = try c.decodeIfPresent(Int.self, forKey: .lshChunkLength)
        lshChunksBefore = try c.decodeIfPresent(Int.self, forKey: .lshChunksBefore)
        lshChunksAfter = try c.decodeIfPresent(Int.self, forKey: .lshChunksAfter)
        if c.contains(.buckets) {
            if let count = try? c.decode(Int.self, forKey: .buckets) {
                buckets = [count]
            } else if let factors = try? c.decode([Int].self, forKey: .buckets) {
                buckets = factors
            } else {
                throw ConfigurationValueError(field: "model.num_buckets", reason: "must be an even number or a list of even numbers")
            }
        }
        hashSeed = try c.decodeIfPresent(UInt64.self, forKey: .hashSeed)
        reversible = try c.value(.reversible, default: d.reversible)
        feedForwardChunk = try c.decodeIfPresent(Int.self, forKey: .feedForwardChunk)
    }

    /// Longformer's `attention_window` for layer `layer` (nil: the mechanism's default).
    public func attentionWindow(layer: Int) -> Int? { attentionWindow?.value(layer: layer) }

    /// Longformer's dilation of each head of layer `layer` (nil: 1 everywhere).
    public func attentionDilation(layer: Int) -> [Int]? { attentionDilation?.heads(layer: layer) }

    /// Checks every field. `causal` (the default, for the char-LM) also rejects mechanisms
    /// that cannot be causal; an encoder such as ``TextClassifier`` passes false.
    public func validate(causal: Bool = true) throws {
        func positive(_ value: Int, _ field: String) throws {
            if value < 1 { throw ConfigurationValueError(field: "model.\(field)", reason: "must be at least 1, got \(value)") }
        }
        try positive(vocabularySize, "vocab_size")
        try positive(context, "context")
        try positive(layers, "layers")
        try positive(heads, "heads")
        try positive(feedForwardMultiplier, "ffn_multiplier")
        if modelDimensions < 1 || modelDimensions % heads != 0 {
            throw ConfigurationValueError(field: "model.d_model", reason: "must be a positive multiple of heads (\(heads)), got \(modelDimensions)")
        }
        if !(dropout >= 0 && dropout < 1) { throw ConfigurationValueError(field: "model.dropout", reason: "must be in [0, 1), got \(dropout)") }
        if !AttentionRegistry.names.contains(attention) {
            throw ConfigurationValueError(field: "model.attention", reason: "must be one of \(AttentionRegistry.names.joined(separator: ", ")), got '\(attention)'")
        }
        if causal && attention == "linformer" {
            throw ConfigurationValueError(field: "model.attention",
                                          reason: "Linformer is not causal (each projected key mixes all positions, future ones included), and the character language model is a causal decoder; use another mechanism")
        }
        if let linformerK, linformerK < 1 || linformerK > context {
            throw ConfigurationValueError(field: "model.linformer_k", reason: "must be between 1 and context (\(context)), got \(linformerK)")
        }
        if let linformerSharing, !LinformerSharing.names.contains(linformerSharing) {
            throw ConfigurationValueError(field: "model.linformer_sharing", reason: "must be one of \(LinformerSharing.names.joined(separator: ", ")), got '\(linformerSharing)'")
        }
        if let attentionWindow {
            if case let .perLayer(values) = attentionWindow, values.count != layers {
                throw ConfigurationValueError(field: "model.attention_window", reason: "needs one value or one per layer (\(layers)), got \(values.count)")
            }
            if let bad = attentionWindow.values.first(where: { $0 < 2 || $0 % 2 != 0 }) {
                throw ConfigurationValueError(field: "model.attention_window",
                                              reason: "must be a positive even number (2w: w tokens on each side, or w back when causal), got \(bad)")
            }
        }
        if let attentionDilation {
            if let bad = attentionDilation.values.first(where: { $0 < 1 }) {
                throw ConfigurationValueError(field: "model.attention_dilation", reason: "must be at least 1, got \(bad)")
            }
            switch attentionDilation {
            case .all: break
            case let .perHead(values) where values.count != heads:
                throw ConfigurationValueError(field: "model.attention_dilation", reason: "a list gives one value per head (\(heads)), got \(values.count)")
            case let .perLayer(rows) where rows.count != layers || rows.contains(where: { $0.count != heads }):
                throw ConfigurationValueError(field: "model.attention_dilation",
                                              reason: "a list of lists gives one list per layer (\(layers)) of one value per head (\(heads))")
            default: break
            }
        }
        if let performerFeatures, performerFeatures < 1 {
            throw ConfigurationValueError(field: "model.performer_features", reason: "must be at least 1, got \(performerFeatures)")
        }
        if let performerKernel, performerKernel != "softmax" && performerKernel != "relu" {
            throw ConfigurationValueError(field: "model.performer_kernel", reason: "must be 'softmax' or 'relu', got '\(performerKernel)'")
        }
        if let performerRedrawEvery, performerRedrawEvery < 1 {
            throw ConfigurationValueError(field: "model.performer_redraw_every", reason: "must be at least 1 step, got \(performerRedrawEvery)")
        }
        if let queryKeyKernel, queryKeyKernel < 1 {
            throw ConfigurationValueError(field: "model.qk_kernel", reason: "must be at least 1, got \(queryKeyKernel)")
        }
        if let logSparseWindow, logSparseWindow < 0 {
            throw ConfigurationValueError(field: "model.logsparse_window", reason: "must be at least 0, got \(logSparseWindow)")
        }
        if let logSparseSubsequence, logSparseSubsequence < 1 {
            throw ConfigurationValueError(field: "model.logsparse_subsequence", reason: "must be at least 1, got \(logSparseSubsequence)")
        }
        if let feedForwardChunk { try positive(feedForwardChunk, "chunk_size_feed_forward") }
        if let lshHashes { try positive(lshHashes, "lsh_num_hashes") }
        if let lshChunkLength { try positive(lshChunkLength, "lsh_chunk_length") }
        for (value, field) in [(lshChunksBefore, "lsh_num_chunks_before"), (lshChunksAfter, "lsh_num_chunks_after")] {
            if let value, value < 0 { throw ConfigurationValueError(field: "model.\(field)", reason: "must be at least 0, got \(value)") }
        }
        if let buckets {
            if buckets.isEmpty || buckets.contains(where: { $0 < 2 || $0 % 2 != 0 }) {
                throw ConfigurationValueError(field: "model.num_buckets", reason: "every bucket count must be even and at least 2, got \(buckets)")
            }
            if buckets.reduce(1, *) > context {
                throw ConfigurationValueError(field: "model.num_buckets", reason: "\(buckets.reduce(1, *)) buckets for a context of \(context): most would stay empty")
            }
        }
        if AbsolutePositions(rawValue: positions) == nil {
            throw ConfigurationValueError(field: "model.positions",
                                          reason: "must be one of \(AbsolutePositions.allCases.map(\.rawValue).joined(separator: ", ")), got '\(positions)'")
        }
        if reversible && block == .postLN {
            throw ConfigurationValueError(field: "model.block", reason: "must be 'pre-ln' with reversible layers (each block's branches read LN of their input), got 'post-ln'")
        }
    }
}

/// An integer setting given once for every layer (`512`) or once per layer (`[128, 256, 512]`).
public enum PerLayerValue: Codable, Equatable, Sendable {
    case all(Int)
    case perLayer([Int])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .all(value)
        } else if let values = try? container.decode([Int].self) {
            self = .perLayer(values)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be an integer or a list of integers (one per layer)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .all(value): try container.encode(value)
        case let .perLayer(values): try container.encode(values)
        }
    }

    public func value(layer: Int) -> Int {
        switch self {
        case let .all(value): value
        case let .perLayer(values): values[layer]
        }
    }

    var values: [Int] {
        switch self {
        case let .all(value): [value]
        case let .perLayer(values): values
        }
    }
}

/// Longformer's dilation: one value for every head of every layer (`2`), one per head
/// (`[1, 1, 2, 2]`, the same in every layer), or one list of per-head values per layer
/// (`[[1, 1, 1, 1], [1, 1, 2, 2]]`).
public enum DilationSetting: Codable, Equatable, Sendable {
    case all(Int)
    case perHead([Int])
    case perLayer([[Int]])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .all(value)
        } else if let values = try? container.decode([Int].self) {
            self = .perHead(values)
        } else if let rows = try? container.decode([[Int]].self) {
            self = .perLayer(rows)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "must be an integer, a list of integers (one per head) or a list of such lists (one per layer)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .all(value): try container.encode(value)
        case let .perHead(values): try container.encode(values)
        case let .perLayer(rows): try container.encode(rows)
        }
    }

    /// The dilation of each head of layer `layer` (one value when it is the same for all heads).
    public func heads(layer: Int) -> [Int] {
        switch self {
        case let .all(value): [value]
        case let .perHead(values): values
        case let .perLayer(rows): rows[layer]
        }
    }

    var values: [Int] {
        switch self {
        case let .all(value): [value]
        case let .perHead(values): values
        case let .perLayer(rows): rows.flatMap { $0 }
        }
    }
}
