import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

/// The sizes of a ``ConformerEncoder``.
public struct ConformerEncoderConfiguration: Codable, Equatable, Sendable {
    /// Feature bins per input frame (log-mel bins).
    public var features: Int
    public var subsampling: SubsamplingKind
    /// 4 for conv2d; a power of two for dw_striding (Parakeet: 8).
    public var subsamplingFactor: Int
    public var subsamplingChannels: Int
    public var modelDimensions: Int
    public var layers: Int
    public var heads: Int
    public var feedForwardDimensions: Int
    /// The depthwise convolution's kernel (odd); nil: no convolution module (the ablation).
    public var kernelSize: Int?
    public var dropout: Float
    /// Multiply the subsampled frames by √d before the blocks (NeMo's `xscaling`).
    public var scaleInput: Bool

    public init(features: Int, subsampling: SubsamplingKind = .depthwiseStriding, subsamplingFactor: Int = 8, subsamplingChannels: Int = 256,
                modelDimensions: Int = 256, layers: Int = 16, heads: Int = 4, feedForwardDimensions: Int = 1024, kernelSize: Int? = 31,
                dropout: Float = 0.1, scaleInput: Bool = true) {
        (self.features, self.subsampling, self.subsamplingFactor, self.subsamplingChannels) = (features, subsampling, subsamplingFactor, subsamplingChannels)
        (self.modelDimensions, self.layers, self.heads, self.feedForwardDimensions) = (modelDimensions, layers, heads, feedForwardDimensions)
        (self.kernelSize, self.dropout, self.scaleInput) = (kernelSize, dropout, scaleInput)
    }

    /// Throws a ``ConfigurationValueError`` naming the first field that cannot work.
    public func validate() throws {
        func require(_ condition: Bool, _ field: String, _ reason: String) throws {
            if !condition { throw ConfigurationValueError(field: field, reason: reason) }
        }
        try require(features >= 1, "features", "must be at least 1, got \(features)")
        switch subsampling {
        case .conv2d: try require(subsamplingFactor == 4, "subsampling_factor", "must be 4 for conv2d subsampling, got \(subsamplingFactor)")
        case .depthwiseStriding:
            try require(subsamplingFactor >= 2 && subsamplingFactor & (subsamplingFactor - 1) == 0, "subsampling_factor",
                        "must be a power of two ≥ 2 for dw_striding subsampling, got \(subsamplingFactor)")
        }
        try require(subsamplingChannels >= 1, "subsampling_channels", "must be at least 1, got \(subsamplingChannels)")
        try require(layers >= 1, "layers", "must be at least 1, got \(layers)")
        try require(modelDimensions >= 2 && modelDimensions % 2 == 0, "d_model", "must be even and positive, got \(modelDimensions)")
        try require(heads >= 1 && modelDimensions % heads == 0, "heads", "must divide d_model (\(modelDimensions)), got \(heads)")
        try require(feedForwardDimensions >= 1, "d_ff", "must be at least 1, got \(feedForwardDimensions)")
        if let kernelSize { try require(kernelSize >= 1 && kernelSize % 2 == 1, "kernel_size", "must be odd and positive, got \(kernelSize)") }
        try require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got \(dropout)")
        let remaining = minimumFeatureBins()
        try require(features >= remaining, "features", "\(features) bins are too few for \(subsampling.rawValue) subsampling (at least \(remaining))")
    }

    /// The fewest feature bins the subsampling convolutions accept.
    private func minimumFeatureBins() -> Int { subsampling == .conv2d ? 7 : 1 }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case features, subsampling, subsamplingFactor = "subsampling_factor", subsamplingChannels = "subsampling_channels"
        case modelDimensions = "d_model", layers, heads, feedForwardDimensions = "d_ff", kernelSize = "kernel_size", dropout
        case scaleInput = "scale_input"
    }
}

/// A Conformer speech encoder (Gulati et al. 2020; FastConformer with dw_striding
/// subsampling, Rekesh et al. 2023): convolution subsampling of log-mel frames, √d input
/// scaling, the 2T − 1 sinusoidal relative encodings computed once for all layers, and
/// ``ConformerBlock``s with ``RelativePositionSelfAttention``.
///
/// Padding is masked everywhere: the subsampling zeroes padded frames after each convolution,
/// attention hides padded keys, the convolution modules zero padded frames before their
/// depthwise filter and keep them out of the batch statistics, and the output's padded frames
/// are zero. A padded batch therefore gives each utterance what it gives alone.
public final class ConformerEncoder: Module {
    public let configuration: ConformerEncoderConfiguration
    public let subsampling: ConvolutionSubsampling
    public let blocks: [ConformerBlock]
    public let inputDropout: Dropout
    /// The random stream of the dropout layers (a trainer saves it with checkpoints).
    public let _randomSource: RandomSource

    public init(configuration c: ConformerEncoderConfiguration, seed: UInt64 = 0) throws {
        try c.validate()
        configuration = c
        var generator = RandomGenerator(seed: seed)
        let source = RandomSource(seed: seed &+ 1)
        _randomSource = source
        subsampling = ConvolutionSubsampling(kind: c.subsampling, factor: c.subsamplingFactor, features: c.features,
                                             channels: c.subsamplingChannels, modelDimensions: c.modelDimensions, generator: &generator)
        blocks = try (0..<c.layers).map { _ in
            let attention = try RelativePositionSelfAttention(modelDimensions: c.modelDimensions, heads: c.heads, generator: &generator)
            return ConformerBlock(attention: attention, feedForwardDimensions: c.feedForwardDimensions, kernelSize: c.kernelSize,
                                  dropout: c.dropout, source: source, generator: &generator)
        }
        inputDropout = Dropout(probability: c.dropout, source: source)
        super.init()
    }

    /// Encodes `features` [batch, time, features]; `lengths` (nil: all frames real) gives each
    /// entry's real frames. Returns [batch, time′, d] and each entry's frames after subsampling.
    public func callAsFunction(_ features: Tensor, lengths: [Int]? = nil) -> (hidden: Tensor, lengths: [Int]) {
        let batch = features.shape[0]
        if let lengths {
            precondition(lengths.count == batch && lengths.allSatisfy { $0 >= 1 && $0 <= features.shape[1] },
                         "ConformerEncoder lengths \(lengths) do not fit features \(features.shape)")
        }
        let (subsampled, reduced) = subsampling(features, lengths: lengths)
        let time = subsampled.shape[1]
        let outputLengths = reduced ?? Array(repeating: time, count: batch)
        var x = configuration.scaleInput ? subsampled * Float(configuration.modelDimensions).squareRoot() : subsampled
        x = inputDropout(x)
        let padded = outputLengths.contains { $0 < time }
        let validFrames = padded ? frameMask(outputLengths, time: time) : nil
        let keyPadding = padded ? outputLengths.map { length in (0..<time).map { $0 < length } } : nil
        let context = AttentionContext(mask: AttentionMask(keyPadding: keyPadding),
                                       relativePositions: encoderRelativeEncodings(length: time, dimensions: configuration.modelDimensions))
        for block in blocks { x = block.forward(x, context: context, validFrames: validFrames).output }
        if let validFrames { x = x * validFrames }
        return (x, outputLengths)
    }
}
