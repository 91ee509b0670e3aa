import Foundation
import GlanceCore

/// A mechanism and its options, as a configuration gives them: JSON
/// `{"type": "performer", "features": 256}`, or the bare name `"full"` for a mechanism's
/// defaults. Decoding is strict: an unknown mechanism, or a key that is not an option of the
/// chosen mechanism, throws an ``AttentionConfigurationError`` naming it.
public struct AttentionConfiguration: Codable, Equatable, Sendable {
    /// The options, of the type the registry gives for the mechanism.
    public var options: any AttentionOptions

    public init(_ options: any AttentionOptions) {
        self.options = options
    }

    /// Full attention.
    public static let full = AttentionConfiguration(FullAttentionOptions())

    /// The mechanism's registry name.
    public var type: String { Swift.type(of: options).mechanism }

    /// Throws an ``AttentionConfigurationError`` naming the option that cannot work for `shape`.
    public func validate(for shape: AttentionShape) throws {
        try options.validate(for: shape)
    }

    /// The attention of layer `shape.layer`, after validating the options.
    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try options.validate(for: shape)
        return try options.make(shape: shape, build: build, generator: &generator)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.options.isEqual(to: rhs.options) }

    /// The options as a JSON object without `type` (`{}` for a mechanism without options).
    public var optionsObject: [String: Any] {
        let encoded = (try? JSONEncoder().encode(self)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (encoded ?? [:]).filter { $0.key != "type" }
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static let type = Key(stringValue: "type")
    }

    public init(from decoder: any Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            options = try AttentionRegistry.optionsType(named: name).init()
            return
        }
        let container = try decoder.container(keyedBy: Key.self)
        let optionsType = try AttentionRegistry.optionsType(named: container.decode(String.self, forKey: .type))
        let known = optionsType.optionNames
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { $0 != "type" && !known.contains($0) }) {
            throw AttentionConfigurationError(
                field: unknown,
                reason: "is not an option of the \(optionsType.mechanism) attention mechanism (its options: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        options = try optionsType.init(from: decoder)
    }

    /// Encodes `{"type": …, options…}` (the options that differ from nil defaults).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(type, forKey: .type)
        try options.encode(to: encoder)
    }
}

extension AttentionConfiguration: CustomStringConvertible {
    /// The mechanism and the options given, for logs: `linformer {"k":8,"sharing":"headwise"}`.
    public var description: String {
        let options = optionsObject
        guard !options.isEmpty, let json = try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]) else { return type }
        return "\(type) \(String(decoding: json, as: UTF8.self))"
    }
}
