import Foundation
import GlanceAttention
import GlanceNN

/// The kind of attention of one Reformer layer (an entry of Hugging Face's `attn_layers`).
public enum ReformerLayerKind: String, Codable, Sendable, CaseIterable {
    /// LSH attention (``Reformer``).
    case lsh
    /// Chunked local attention (``ReformerLocalAttention``).
    case local
}

/// The fields of a Hugging Face `ReformerConfig` (config.json) that ``ReformerLanguageModel``
/// uses; other fields (dropouts, `axial_norm_std`, `chunk_size_lm_head`, token ids other than
/// `pad_token_id`, …) are ignored. Defaults are transformers 5.24.0's. JSON keys are Hugging
/// Face's; ``validate()`` names them in its errors.
public struct ReformerModelConfiguration: PretrainedConfiguration, Codable, Equatable, Sendable {
    public var modelType = "reformer"
    /// `attn_layers`: one entry per layer, "lsh" or "local" (checked by ``validate()``).
    public var attentionLayers = ["local", "lsh", "local", "lsh", "local", "lsh"]
    public var vocabularySize = 320
    public var hiddenSize = 256
    public var heads = 12
    /// `attention_head_size`: heads × head size need not equal `hidden_size`.
    public var attentionHeadSize = 64
    public var feedForwardSize = 512
    public var hiddenActivation = "relu"
    public var layerNormEpsilon: Float = 1e-12
    /// `axial_pos_embds`: axial position embeddings (true) or a plain position table.
    public var axialPositions = true
    public var axialShape = [64, 64]
    public var axialDimensions = [64, 192]
    public var maximumPositions = 4096
    /// `num_buckets`: one even count, or even factors whose product is the count, or nil:
    /// Hugging Face's choice for the sequence length (see ``lshBuckets(forLength:)``).
    public var buckets: [Int]? = nil
    public var hashes = 1
    public var lshChunkLength = 64
    public var lshChunksBefore = 1
    public var lshChunksAfter = 0
    public var localChunkLength = 64
    public var localChunksBefore = 1
    public var localChunksAfter = 0
    /// `chunk_size_feed_forward`: positions per feed-forward chunk (0: all at once).
    public var feedForwardChunkLength = 0
    /// `is_decoder`: causal attention (true for `ReformerModelWithLMHead`).
    public var isDecoder = false
    /// `hash_seed`: seed of the LSH rotations (nil: ``ReformerLanguageModel`` uses a fixed default).
    public var hashSeed: UInt64? = nil
    /// `pad_token_id`: the id of the positions added to reach a multiple of the chunk lengths
    /// (null is read as 0; those positions are masked, so the id does not change the outputs).
    public var padTokenID = 0

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", attentionLayers = "attn_layers", vocabularySize = "vocab_size", hiddenSize = "hidden_size"
        case heads = "num_attention_heads", attentionHeadSize = "attention_head_size", feedForwardSize = "feed_forward_size"
        case hiddenActivation = "hidden_act", layerNormEpsilon = "layer_norm_eps", axialPositions = "axial_pos_embds"
        case axialShape = "axial_pos_shape", axialDimensions = "axial_pos_embds_dim", maximumPositions = "max_position_embeddings"
        case buckets = "num_buckets", hashes = "num_hashes", lshChunkLength = "lsh_attn_chunk_length"
        case lshChunksBefore = "lsh_num_chunks_before", lshChunksAfter = "lsh_num_chunks_after"
        case localChunkLength = "local_attn_chunk_length", localChunksBefore = "local_num_chunks_before"
        case localChunksAfter = "local_num_chunks_after", feedForwardChunkLength = "chunk_size_feed_forward"
        case isDecoder = "is_decoder", hashSeed = "hash_seed", padTokenID = "pad_token_id"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ReformerModelConfiguration()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? ""
        attentionLayers = try c.value(.attentionLayers, default: d.attentionLayers)
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        hiddenSize = try c.value(.hiddenSize, default: d.hiddenSize)
        heads = try c.value(.heads, default: d.heads)
        attentionHeadSize = try c.value(.attentionHeadSize, default: d.attentionHeadSize)
        feedForwardSize = try c.value(.feedForwardSize, default: d.feedForwardSize)
        hiddenActivation = try c.value(.hiddenActivation, default: d.hiddenActivation)
        layerNormEpsilon = try c.value(.layerNormEpsilon, default: d.layerNormEpsilon)
        axialPositions = try c.value(.axialPositions, default: d.axialPositions)
        axialShape = try c.value(.axialShape, default: d.axialShape)
        axialDimensions = try c.value(.axialDimensions, default: d.axialDimensions)
        maximumPositions = try c.value(.maximumPositions, default: d.maximumPositions)
        if c.contains(.buckets), try !c.decodeNil(forKey: .buckets) {
            if let count = try? c.decode(Int.self, forKey: .buckets) {
                buckets = [count]
            } else if let factors = try? c.decode([Int].self, forKey: .buckets) {
                buckets = factors
            } else {
                throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.buckets],
                                                        debugDescription: "must be an even integer, a list of even integers or null"))
            }
        }
        hashes = try c.value(.hashes, default: d.hashes)
        lshChunkLength = try c.value(.lshChunkLength, default: d.lshChunkLength)
        lshChunksBefore = try c.value(.lshChunksBefore, default: d.lshChunksBefore)
        lshChunksAfter = try c.value(.lshChunksAfter, default: d.lshChunksAfter)
        localChunkLength = try c.value(.localChunkLength, default: d.localChunkLength)
        localChunksBefore = try c.value(.localChunksBefore, default: d.localChunksBefore)
        localChunksAfter = try c.value(.localChunksAfter, default: d.localChunksAfter)
        feedForwardChunkLength = try c.value(.feedForwardChunkLength, default: d.feedForwardChunkLength)
        isDecoder = try c.value(.isDecoder, default: d.isDecoder)
        if c.contains(.hashSeed), try !c.decodeNil(forKey: .hashSeed) {
            guard let seed = try? c.decode(Int.self, forKey: .hashSeed), seed >= 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.hashSeed], debugDescription: "must be a non-negative integer or null"))
            }
            hashSeed = UInt64(seed)
        }
        if c.contains(.padTokenID), try !c.decodeNil(forKey: .padTokenID) {
            padTokenID = try c.decode(Int.self, forKey: .padTokenID)
        }
    }

    /// The layers' kinds, one per entry of `attn_layers`; throws for an unknown entry.
    public func layerKinds() throws -> [ReformerLayerKind] {
        try attentionLayers.enumerated().map { index, name in
            guard let kind = ReformerLayerKind(rawValue: name) else {
                throw ConfigurationValueError(field: "attn_layers[\(index)]", reason: "unknown attention layer type '\(name)' (expected \"lsh\" or \"local\")")
            }
            return kind
        }
    }

    /// Number of layers (the length of `attn_layers`).
    public var layers: Int { attentionLayers.count }

    /// Chunk lengths of the kinds of layer present (LSH first).
    var presentChunkLengths: [Int] {
        var lengths: [Int] = []
        if attentionLayers.contains(ReformerLayerKind.lsh.rawValue) { lengths.append(lshChunkLength) }
        if attentionLayers.contains(ReformerLayerKind.local.rawValue) { lengths.append(localChunkLength) }
        return lengths
    }

    /// Inputs longer than the shortest chunk are padded to a multiple of this, the least
    /// common multiple of the chunk lengths in use (Hugging Face's `ReformerModel`).
    public var chunkMultiple: Int {
        presentChunkLengths.reduce(1) { a, b in a / greatestCommonDivisor(a, b) * b }
    }

    /// The length a sequence of `length` tokens is padded to: a multiple of ``chunkMultiple``
    /// when it is longer than the shortest chunk length, else itself.
    public func paddedLength(_ length: Int) -> Int {
        let multiple = chunkMultiple, shortest = presentChunkLengths.min() ?? 1
        guard length % multiple != 0, length > shortest else { return length }
        return (length + multiple - 1) / multiple * multiple
    }

    /// Positions the model can embed: `max_position_embeddings`, and with axial positions no
    /// more than their grid holds.
    public var positionLimit: Int {
        axialPositions ? Swift.min(maximumPositions, axialShape.reduce(1, *)) : maximumPositions
    }

    /// The longest input whose padded length fits ``positionLimit``.
    public var contextLength: Int {
        let limit = positionLimit
        if paddedLength(limit) <= limit { return limit }
        let multiple = chunkMultiple
        return limit / multiple * multiple > 0 ? limit / multiple * multiple : Swift.min(limit, presentChunkLengths.min() ?? limit)
    }

    /// The LSH buckets for (padded) sequences of `length`: `num_buckets` when set, else Hugging
    /// Face's choice on a first forward of that length
    /// (``LSHBuckets/huggingFaceDefault(length:chunkLength:maximumPositions:)``).
    public func lshBuckets(forLength length: Int) throws -> LSHBuckets {
        guard let buckets else {
            return LSHBuckets.huggingFaceDefault(length: length, chunkLength: lshChunkLength, maximumPositions: maximumPositions)
        }
        do { return try LSHBuckets(factors: buckets) } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "num_buckets", reason: error.reason)
        }
    }

    /// The feed-forward activation of `hidden_act`.
    public func activation() throws -> Activation { try huggingFaceActivation(named: hiddenActivation) }

    /// Throws a ``ConfigurationValueError`` naming the first field that cannot work.
    public func validate() throws {
        guard modelType == "reformer" else {
            throw ConfigurationValueError(field: "model_type", reason: modelType.isEmpty ? "is missing; this is not a Reformer checkpoint"
                                                                                         : "is '\(modelType)', not 'reformer': this checkpoint is another model")
        }
        guard !attentionLayers.isEmpty else { throw ConfigurationValueError(field: "attn_layers", reason: "needs at least one layer (\"lsh\" or \"local\")") }
        _ = try layerKinds()
        for (field, value) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("num_attention_heads", heads),
                               ("attention_head_size", attentionHeadSize), ("feed_forward_size", feedForwardSize),
                               ("max_position_embeddings", maximumPositions), ("num_hashes", hashes),
                               ("lsh_attn_chunk_length", lshChunkLength), ("local_attn_chunk_length", localChunkLength)] where value < 1 {
            throw ConfigurationValueError(field: field, reason: "must be at least 1, got \(value)")
        }
        for (field, value) in [("lsh_num_chunks_before", lshChunksBefore), ("lsh_num_chunks_after", lshChunksAfter),
                               ("local_num_chunks_before", localChunksBefore), ("local_num_chunks_after", localChunksAfter),
                               ("chunk_size_feed_forward", feedForwardChunkLength)] where value < 0 {
            throw ConfigurationValueError(field: field, reason: "must be at least 0, got \(value)")
        }
        if isDecoder {
            for (field, value) in [("lsh_num_chunks_after", lshChunksAfter), ("local_num_chunks_after", localChunksAfter)] where value != 0 {
                throw ConfigurationValueError(field: field, reason: "must be 0 when is_decoder is true (a causal layer cannot look ahead), got \(value)")
            }
        }
        if let buckets {
            let layout = try lshBuckets(forLength: maximumPositions)
            guard layout.count <= maximumPositions else {
                throw ConfigurationValueError(field: "num_buckets",
                                              reason: "\(buckets) makes \(layout.count) buckets for at most \(maximumPositions) positions (max_position_embeddings): most would stay empty")
            }
        }
        guard layerNormEpsilon >= 0, layerNormEpsilon.isFinite else {
            throw ConfigurationValueError(field: "layer_norm_eps", reason: "must be a non-negative number, got \(layerNormEpsilon)")
        }
        if axialPositions {
            guard !axialShape.isEmpty, axialShape.count == axialDimensions.count else {
                throw ConfigurationValueError(field: "axial_pos_shape",
                                              reason: "needs one size per entry of axial_pos_embds_dim (\(axialDimensions.count)), got \(axialShape)")
            }
            if let bad = axialShape.first(where: { $0 < 1 }) { throw ConfigurationValueError(field: "axial_pos_shape", reason: "sizes must be at least 1, got \(bad)") }
            // The grid's positions are their product: bounded before anything multiplies or sums them.
            let positions = axialShape.reduce(into: (value: 1, overflow: false)) { grid, size in
                let product = grid.value.multipliedReportingOverflow(by: size)
                grid = (product.partialValue, grid.overflow || product.overflow)
            }
            guard !positions.overflow, positions.value <= 1 << 31 else {
                throw ConfigurationValueError(field: "axial_pos_shape", reason: "\(axialShape) holds more than 2^31 positions")
            }
            if let bad = axialDimensions.first(where: { $0 < 1 }) {
                throw ConfigurationValueError(field: "axial_pos_embds_dim", reason: "widths must be at least 1, got \(bad)")
            }
            guard axialDimensions.reduce(0, +) == hiddenSize else {
                throw ConfigurationValueError(field: "axial_pos_embds_dim",
                                              reason: "\(axialDimensions) sums to \(axialDimensions.reduce(0, +)), not hidden_size (\(hiddenSize))")
            }
        }
        guard padTokenID >= 0 && padTokenID < vocabularySize else {
            throw ConfigurationValueError(field: "pad_token_id", reason: "\(padTokenID) is outside the vocabulary 0..<\(vocabularySize)")
        }
        _ = try activation()
    }
}

private func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return Swift.max(a, 1)
}
