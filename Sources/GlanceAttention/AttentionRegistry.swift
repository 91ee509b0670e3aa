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
    public static let names = ["full"]

    public static func make(_ settings: AttentionSettings, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        switch settings.type {
        case "full":
            return try FullAttention(modelDimensions: settings.modelDimensions, heads: settings.heads,
                                     standardDeviation: settings.standardDeviation,
                                     outputStandardDeviation: settings.outputStandardDeviation, generator: &generator)
        default:
            throw AttentionConfigurationError(field: "attention", reason: "unknown mechanism '\(settings.type)'; known: \(names.joined(separator: ", "))")
        }
    }
}
