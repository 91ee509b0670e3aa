import Foundation

/// A ``ConformerEncoderConfiguration`` as the model section of a speech run's configuration
/// file: every key optional with the defaults of ``ConformerEncoderConfiguration/init(features:subsampling:subsamplingFactor:subsamplingChannels:modelDimensions:layers:heads:feedForwardDimensions:kernelSize:dropout:scaleInput:)``
/// (80 log-mel bins), `kernel_size: null` for the encoder without convolution modules (the
/// paper's ablation; an absent `kernel_size` is the default 31), unknown keys rejected.
extension ConformerEncoderConfiguration: StrictConfigurationSection {
    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    /// The default encoder on 80 log-mel bins.
    public init() { self.init(features: 80) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ConformerEncoderConfiguration()
        self.init(features: try c.value(.features, default: d.features))
        if c.contains(.subsampling) {
            let name = try c.decode(String.self, forKey: .subsampling)
            guard let kind = SubsamplingKind(rawValue: name) else {
                throw ConfigurationValueError(field: "model.subsampling",
                                              reason: "must be one of \(SubsamplingKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
            }
            subsampling = kind
        }
        subsamplingFactor = try c.value(.subsamplingFactor, default: subsampling == .conv2d ? 4 : d.subsamplingFactor)
        subsamplingChannels = try c.value(.subsamplingChannels, default: d.subsamplingChannels)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        layers = try c.value(.layers, default: d.layers)
        heads = try c.value(.heads, default: d.heads)
        feedForwardDimensions = try c.value(.feedForwardDimensions, default: d.feedForwardDimensions)
        if c.contains(.kernelSize) {
            kernelSize = try c.decodeNil(forKey: .kernelSize) ? nil : try c.decode(Int.self, forKey: .kernelSize)
        }
        dropout = try c.value(.dropout, default: d.dropout)
        scaleInput = try c.value(.scaleInput, default: d.scaleInput)
    }

    /// Writes every key, `kernel_size: null` included: an absent `kernel_size` reads back as
    /// the default 31, so the ablation's configuration must say null to round-trip (a
    /// checkpoint's saved configuration is compared with the run's on resume).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(features, forKey: .features)
        try c.encode(subsampling.rawValue, forKey: .subsampling)
        try c.encode(subsamplingFactor, forKey: .subsamplingFactor)
        try c.encode(subsamplingChannels, forKey: .subsamplingChannels)
        try c.encode(modelDimensions, forKey: .modelDimensions)
        try c.encode(layers, forKey: .layers)
        try c.encode(heads, forKey: .heads)
        try c.encode(feedForwardDimensions, forKey: .feedForwardDimensions)
        if let kernelSize { try c.encode(kernelSize, forKey: .kernelSize) } else { try c.encodeNil(forKey: .kernelSize) }
        try c.encode(dropout, forKey: .dropout)
        try c.encode(scaleInput, forKey: .scaleInput)
    }

    /// ``validate()`` with the field named as in a run's configuration (`model.…`).
    public func validateSection() throws {
        do { try validate() } catch let error as ConfigurationValueError {
            throw ConfigurationValueError(field: "model.\(error.field)", reason: error.reason)
        }
    }
}
