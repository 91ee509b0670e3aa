import Foundation
import GlanceCore

/// What it takes to build any attention mechanism: the common sizes and the
/// mechanism-specific options (later mechanisms add theirs here).
public struct AttentionSettings: Sendable, Equatable {
    /// Registry name of the mechanism ("full", …).
    public var type: String
    public var modelDimensions: Int
    public var heads: Int
    /// Longest sequence the layer must accept.
    public var maximumLength: Int
    /// Init standard deviation of the projections (nil: PyTorch's default uniform).
    public var standardDeviation: Float?
    /// Init standard deviation of the output projection (nil: as `standardDeviation`).
    public var outputStandardDeviation: Float?
    /// Linformer: projected sequence length k (nil: min(256, maximumLength)).
    public var projectedLength: Int? = nil
    /// Linformer: sharing of the projections, a ``LinformerSharing`` name (nil: "headwise").
    public var sharing: String? = nil
    /// Whether the layer will be used with causal masks: mechanisms that cannot be causal
    /// (Linformer) throw an error naming `causal`.
    public var causal: Bool = false
    /// Performer: number of random features m (nil: ⌊d·ln d⌋ for head dimensions d, performer-pytorch's default).
    public var features: Int? = nil
    /// Performer: the kernel, a ``PerformerKernel`` name, "softmax" or "relu" (nil: "softmax").
    public var kernel: String? = nil
    /// Performer: orthogonal random features (nil: true); false draws plain Gaussian ones.
    public var orthogonal: Bool? = nil
    /// Performer: redraw the features every this many training steps (nil: never).
    public var redrawInterval: Int? = nil
    /// LogSparse: kernel size K of the causal query and key convolutions (nil: 1, plain projections).
    public var queryKeyKernel: Int? = nil
    /// LogSparse: earlier positions each query sees densely before the exponential steps (nil: 0).
    public var localWindow: Int? = nil
    /// LogSparse: restart (sub-sequence) length L (nil: no restarts).
    public var subsequenceLength: Int? = nil
    /// Reformer: LSH hash rounds (nil: 1, Hugging Face's default).
    public var hashes: Int? = nil
    /// Reformer: buckets, one even count or a list of even factors (nil: Hugging Face's
    /// choice for `maximumLength`, ``LSHBuckets/huggingFaceDefault(length:chunkLength:maximumPositions:)``).
    public var buckets: [Int]? = nil
    /// Reformer: slots per chunk of the sorted sequence (nil: 64).
    public var chunkLength: Int? = nil
    /// Reformer: neighbouring chunks attended to (nil: 1 before, 0 after).
    public var chunksBefore: Int? = nil
    public var chunksAfter: Int? = nil
    /// Reformer: seed of the random rotations (nil: drawn from the generator).
    public var hashSeed: UInt64? = nil
    /// Longformer: Hugging Face's `attention_window`, the full window 2w, even (nil: 512).
    public var attentionWindow: Int? = nil
    /// Longformer: dilation, one value for all heads or one per head (nil: 1).
    public var attentionDilation: [Int]? = nil

    public init(type: String, modelDimensions: Int, heads: Int, maximumLength: Int,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil) {
        self.type = type
        self.modelDimensions = modelDimensions
        self.heads = heads
        self.maximumLength = maximumLength
        self.standardDeviation = standardDeviation
        self.outputStandardDeviation = outputStandardDeviation
    }
}

/// Builds attention mechanisms by name, for configs and `glance bench`.
public enum AttentionRegistry {
    /// Names that ``make(_:generator:)`` accepts.
    public static let names = ["full", "linformer", "performer", "logsparse", "reformer", "longformer"]

    public static func make(_ settings: AttentionSettings, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        switch settings.type {
        case "full":
            return try FullAttention(modelDimensions: settings.modelDimensions, heads: settings.heads,
                                     standardDeviation: settings.standardDeviation,
                                     outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        case "linformer":
            let sharingName = settings.sharing ?? LinformerSharing.headwise.rawValue
            guard let sharing = LinformerSharing(rawValue: sharingName) else {
                throw AttentionConfigurationError(field: "linformer_sharing", reason: "must be one of \(LinformerSharing.names.joined(separator: ", ")), got '\(sharingName)'")
            }
            return try Linformer(modelDimensions: settings.modelDimensions, heads: settings.heads, maximumLength: settings.maximumLength,
                                 projectedLength: settings.projectedLength ?? min(256, settings.maximumLength), sharing: sharing,
                                 causal: settings.causal, standardDeviation: settings.standardDeviation,
                                 outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        case "performer":
            let kernelName = settings.kernel ?? PerformerKernel.softmax.rawValue
            guard let kernel = PerformerKernel(rawValue: kernelName) else {
                throw AttentionConfigurationError(field: "kernel", reason: "must be softmax or relu, got '\(kernelName)'")
            }
            let headDimensions = settings.modelDimensions / Swift.max(settings.heads, 1)
            let defaultFeatures = Swift.max(1, Int(Double(headDimensions) * Foundation.log(Double(Swift.max(headDimensions, 1)))))
            return try Performer(modelDimensions: settings.modelDimensions, heads: settings.heads,
                                 features: settings.features ?? defaultFeatures, kernel: kernel,
                                 orthogonal: settings.orthogonal ?? true, redrawInterval: settings.redrawInterval,
                                 standardDeviation: settings.standardDeviation,
                                 outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        case "logsparse":
            return try LogSparseAttention(modelDimensions: settings.modelDimensions, heads: settings.heads,
                                          queryKeyKernel: settings.queryKeyKernel ?? 1,
                                          pattern: LogSparsePattern(localWindow: settings.localWindow ?? 0,
                                                                    subsequenceLength: settings.subsequenceLength),
                                          standardDeviation: settings.standardDeviation,
                                          outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        case "reformer":
            let chunkLength = settings.chunkLength ?? 64
            try validateChunking(chunkLength: chunkLength, before: settings.chunksBefore ?? 1, after: settings.chunksAfter ?? 0, prefix: "lsh")
            let buckets = try settings.buckets.map { try LSHBuckets(factors: $0) }
                ?? LSHBuckets.huggingFaceDefault(length: settings.maximumLength, chunkLength: chunkLength, maximumPositions: settings.maximumLength)
            guard buckets.count <= Swift.max(2, settings.maximumLength) else {
                throw AttentionConfigurationError(field: "num_buckets", reason: "\(buckets.count) buckets for at most \(settings.maximumLength) positions: most would stay empty")
            }
            let options = try LSHAttentionOptions(hashes: settings.hashes ?? 1, buckets: buckets, chunkLength: chunkLength,
                                                  chunksBefore: settings.chunksBefore ?? 1, chunksAfter: settings.chunksAfter ?? 0)
            return try Reformer(modelDimensions: settings.modelDimensions, heads: settings.heads, options: options,
                                hashSeed: settings.hashSeed, standardDeviation: settings.standardDeviation,
                                outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        case "longformer":
            // A causal layer has no global tokens, so it gets no global projections.
            return try Longformer(modelDimensions: settings.modelDimensions, heads: settings.heads,
                                  attentionWindow: settings.attentionWindow ?? 512, dilation: settings.attentionDilation ?? [1],
                                  globalProjections: !settings.causal, standardDeviation: settings.standardDeviation,
                                  outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        default:
            throw AttentionConfigurationError(field: "attention", reason: "unknown mechanism '\(settings.type)'; known: \(names.joined(separator: ", "))")
        }
    }
}
