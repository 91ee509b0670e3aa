import GlanceCore
import GlanceNN

/// What every attention layer of a model shares, whatever its mechanism.
public struct AttentionShape: Sendable, Equatable {
    public var modelDimensions: Int
    public var heads: Int
    /// Longest sequence the layer must accept.
    public var maximumLength: Int
    /// Layers in the model (for options given per layer).
    public var layers: Int
    /// The layer being built, 0..<layers.
    public var layer: Int
    /// Init standard deviation of the projections (nil: PyTorch's default uniform).
    public var standardDeviation: Float?
    /// Init standard deviation of the output projection (nil: as `standardDeviation`).
    public var outputStandardDeviation: Float?

    public init(modelDimensions: Int, heads: Int, maximumLength: Int, layers: Int = 1, layer: Int = 0,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil) {
        self.modelDimensions = modelDimensions
        self.heads = heads
        self.maximumLength = maximumLength
        self.layers = layers
        self.layer = layer
        self.standardDeviation = standardDeviation
        self.outputStandardDeviation = outputStandardDeviation
    }

    /// Width of each head.
    public var headDimensions: Int { modelDimensions / Swift.max(heads, 1) }
}

/// State shared by the layers of one model while it is built: what the model will ask of
/// them, and objects one layer leaves for the later ones (a projection shared across layers),
/// keyed by mechanism.
public final class AttentionBuild {
    /// The capabilities the model needs of every layer (``AttentionCapabilities/causal`` for a
    /// language model); the model checks them once the layers are built.
    public let required: AttentionCapabilities
    /// Objects left by earlier layers, keyed by the mechanism's name.
    public var shared: [String: AnyObject] = [:]
    /// The model's dropout stream, for layers with dropout of their own (LSRA's DropConnect).
    public var randomSource: RandomSource?

    public init(required: AttentionCapabilities) {
        self.required = required
    }
}

/// One row of a mechanism's options table: what the docs and `glance mechanisms` print.
public struct AttentionOptionDocumentation: Sendable, Equatable {
    /// The option's name in JSON and in `--option NAME=VALUE`.
    public let name: String
    /// The JSON type, in words ("integer", "string", "integer or list of integers").
    public let type: String
    /// The default, in words.
    public let defaultValue: String
    public let help: String

    public init(_ name: String, _ type: String, default defaultValue: String, _ help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.help = help
    }
}

/// The options of one attention mechanism: a strict Codable value (every key is optional and
/// falls back to its default; a key that is not an option is an error), with the options'
/// validation, the construction of a layer and the options' documentation.
public protocol AttentionOptions: Codable, Equatable, Sendable {
    /// The mechanism's registry name.
    static var mechanism: String { get }
    /// Every option, in the order the docs list them.
    static var documentation: [AttentionOptionDocumentation] { get }
    /// Former model-level config keys of these options, each with its option's name (for the
    /// error that shows an old flat configuration its new form).
    static var formerNames: [String: String] { get }
    /// The defaults.
    init()
    /// Throws an ``AttentionConfigurationError`` naming the option that cannot work for `shape`.
    func validate(for shape: AttentionShape) throws
    /// The layer `shape.layer` of a model; `build` carries what the layers share. Call
    /// ``validate(for:)`` first (``AttentionConfiguration/make(shape:build:generator:)`` does).
    func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism
}

extension AttentionOptions {
    public static var formerNames: [String: String] { [:] }

    /// The names of the options.
    public static var optionNames: [String] { documentation.map(\.name) }

    /// Whether `other` holds the same options of the same mechanism.
    func isEqual(to other: any AttentionOptions) -> Bool { (other as? Self) == self }
}

extension KeyedDecodingContainer {
    /// The option under `key`, or `fallback` when the key is absent.
    public func option<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }

    /// A named choice (an enum's raw value) under `key`, or `fallback` when the key is absent;
    /// another name throws an error naming the option and the choices.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: Key, default fallback: T) throws -> T where T.RawValue == String {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return fallback }
        guard let value = T(rawValue: name) else {
            throw AttentionConfigurationError(field: key.stringValue,
                                              reason: "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
        }
        return value
    }
}

/// Throws an error naming `option` unless `value` (when given) is at least `minimum`.
public func requireOption(_ value: Int?, atLeast minimum: Int, _ option: String) throws {
    if let value, value < minimum {
        throw AttentionConfigurationError(field: option, reason: "must be at least \(minimum), got \(value)")
    }
}
