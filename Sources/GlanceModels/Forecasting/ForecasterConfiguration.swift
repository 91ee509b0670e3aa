import Foundation
import GlanceAttention
import GlanceData
import GlanceNN

/// The forecaster's model section (strict: unknown keys are rejected): a causal decoder over a
/// series, LogSparse attention with causal convolutional queries and keys (`qk_kernel` 3) by
/// default; any causal mechanism of the registry works.
public struct ForecasterConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var layers = 3
    public var modelDimensions = 32
    public var heads = 4
    /// Feed-forward width as a multiple of `modelDimensions`.
    public var feedForwardMultiplier = 4
    public var dropout: Float = 0.1
    public var attention = ForecasterConfiguration.defaultAttention
    /// Conditioning range: the known steps before a forecast.
    public var context = 168
    /// Steps forecast after the conditioning range.
    public var horizon = 24
    public var likelihood: Likelihood = .gaussian
    /// Covariates computed from the timestamps (the data section's `covariates` add columns).
    public var calendar: [CalendarFeature] = CalendarFeature.allCases
    /// A learned vector per series (its target column) added to the inputs, for multi-series data.
    public var seriesEmbedding = true
    /// Absolute positions of the steps: "learned", "sinusoidal" or "none".
    public var positions = "learned"
    public var block: BlockNormalization = .preLN

    /// LogSparse with convolutional queries and keys of kernel 3.
    public static let defaultAttention = AttentionConfiguration(LogSparseOptions(queryKeyKernel: 3))

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, modelDimensions = "d_model", heads, feedForwardMultiplier = "ffn_multiplier", dropout, attention
        case context, horizon, likelihood, calendar, seriesEmbedding = "series_embedding", positions, block
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ForecasterConfiguration()
        layers = try c.value(.layers, default: d.layers)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        heads = try c.value(.heads, default: d.heads)
        feedForwardMultiplier = try c.value(.feedForwardMultiplier, default: d.feedForwardMultiplier)
        dropout = try c.value(.dropout, default: d.dropout)
        do {
            attention = try c.decodeIfPresent(AttentionConfiguration.self, forKey: .attention) ?? d.attention
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.attention.\(error.field)", reason: error.reason)
        }
        context = try c.value(.context, default: d.context)
        horizon = try c.value(.horizon, default: d.horizon)
        if c.contains(.likelihood) {
            let name = try c.decode(String.self, forKey: .likelihood)
            guard let value = Likelihood(rawValue: name) else {
                throw ConfigurationValueError(field: "model.likelihood", reason: "must be one of \(Likelihood.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
            }
            likelihood = value
        }
        if c.contains(.calendar) {
            calendar = try c.decode([String].self, forKey: .calendar).map { name in
                guard let feature = CalendarFeature(rawValue: name) else {
                    throw ConfigurationValueError(field: "model.calendar",
                                                  reason: "must list names among \(CalendarFeature.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
                }
                return feature
            }
        }
        seriesEmbedding = try c.value(.seriesEmbedding, default: d.seriesEmbedding)
        positions = try c.value(.positions, default: d.positions)
        block = try c.value(.block, default: d.block)
    }

    /// Steps the model reads at most: a window of `context + horizon` values read one step behind.
    public var maximumLength: Int { context + horizon }

    /// The blocks' shape, as the language model's configuration that ``TransformerBlock/stack(_:required:source:generator:)`` reads.
    var blockShape: LanguageModelConfiguration {
        var shape = LanguageModelConfiguration()
        (shape.context, shape.layers, shape.modelDimensions, shape.heads) = (maximumLength, layers, modelDimensions, heads)
        (shape.feedForwardMultiplier, shape.dropout, shape.attention, shape.positions, shape.block) = (feedForwardMultiplier, dropout, attention, positions, block)
        return shape
    }

    /// Checks every field, the attention's options included (whether it serves a causal decoder
    /// is checked when the model builds its layers).
    public func validate() throws {
        for (field, value) in [("context", context), ("horizon", horizon)] where value < 1 || value > 1 << 24 {
            throw ConfigurationValueError(field: "model.\(field)", reason: "must be in 1…\(1 << 24), got \(value)")
        }
        if Set(calendar).count != calendar.count { throw ConfigurationValueError(field: "model.calendar", reason: "names a feature twice: \(calendar.map(\.rawValue))") }
        try blockShape.validate()
    }
}

extension ForecasterConfiguration {
    /// Memory of one training step: the language model's estimate for the blocks at this
    /// length (the input stage and the head are small beside them).
    public func trainingMemory(microBatch: Int, field: String) -> MemoryEstimate {
        blockShape.trainingMemory(microBatch: microBatch, field: field)
    }
}
