import Foundation
import GlanceCore

/// A problem with a configuration file, naming the file and the field.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case malformed(path: String, detail: String)
    case unknownField(path: String, field: String, known: [String])
    case invalidValue(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): "configuration file \(path) does not exist"
        case let .malformed(path, detail): "configuration file \(path) is not valid: \(detail)"
        case let .unknownField(path, field, known):
            "configuration file \(path): unknown field '\(field)' (known here: \(known.joined(separator: ", ")))"
        case let .invalidValue(path, field, reason): "configuration file \(path): '\(field)' \(reason)"
        }
    }
}

/// A configuration section whose JSON keys are fixed: anything else is rejected.
public protocol StrictConfigurationSection: Codable, Sendable {
    /// JSON keys this section accepts, with the nested sections under them.
    static var fields: [String: (any StrictConfigurationSection.Type)?] { get }
    /// For a key that is no longer a field: where it went, given its value (nil: unknown).
    static func movedField(_ key: String, value: Any) -> String?
}

extension StrictConfigurationSection {
    public static func movedField(_ key: String, value: Any) -> String? { nil }

    /// Throws for the first key of `object` (recursively) that the section does not know.
    static func rejectUnknownKeys(in object: [String: Any], prefix: String, path: String) throws {
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let nested = fields[key] else {
                if let reason = movedField(key, value: value) {
                    throw ConfigurationError.invalidValue(path: path, field: prefix + key, reason: reason)
                }
                throw ConfigurationError.unknownField(path: path, field: prefix + key, known: fields.keys.sorted())
            }
            if let nested, let child = value as? [String: Any] {
                try nested.rejectUnknownKeys(in: child, prefix: prefix + key + ".", path: path)
            }
        }
    }
}

/// Reads a strict configuration file: text that is not strict JSON (duplicate keys, trailing
/// commas, …: see ``StrictJSONParser``) throws ``ConfigurationError/malformed(path:detail:)``
/// naming the line and column; unknown keys, wrong types, missing required keys and sizes
/// beyond the limits throw ``ConfigurationError`` naming the file and the field.
public func loadConfiguration<Section: StrictConfigurationSection>(_ type: Section.Type, from url: URL) throws -> Section {
    let path = url.path
    guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError.missingFile(path: path) }
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw ConfigurationError.malformed(path: path, detail: error.localizedDescription) }
    do { _ = try StrictJSONParser.parse([UInt8](data)) } catch let error as StrictJSONError {
        throw ConfigurationError.malformed(path: path, detail: "not valid JSON: \(error)")
    }
    let parsed: Any
    do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
        throw ConfigurationError.malformed(path: path, detail: "not valid JSON (\(error.localizedDescription))")
    }
    guard let object = parsed as? [String: Any] else {
        throw ConfigurationError.malformed(path: path, detail: "the top level is not a JSON object")
    }
    try Section.rejectUnknownKeys(in: object, prefix: "", path: path)
    do {
        return try JSONDecoder().decode(Section.self, from: data)
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        throw ConfigurationError.invalidValue(path: path, field: fieldName(context.codingPath), reason: "has the wrong type: \(context.debugDescription)")
    } catch let DecodingError.keyNotFound(key, context) {
        throw ConfigurationError.invalidValue(path: path, field: fieldName(context.codingPath + [key]), reason: "is required")
    } catch let DecodingError.dataCorrupted(context) {
        throw ConfigurationError.invalidValue(path: path, field: fieldName(context.codingPath), reason: context.debugDescription)
    } catch let error as ConfigurationError {
        throw error
    } catch let error as ConfigurationValueError {
        throw ConfigurationError.invalidValue(path: path, field: error.field, reason: error.reason)
    } catch {
        throw ConfigurationError.malformed(path: path, detail: "\(error)")
    }
}

/// Thrown by a section's validation; ``loadConfiguration(_:from:)`` adds the file name.
public struct ConfigurationValueError: Error, CustomStringConvertible {
    public let field: String
    public let reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "'\(field)' \(reason)" }
}

private func fieldName(_ path: [any CodingKey]) -> String {
    path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

extension KeyedDecodingContainer {
    /// The value for `key`, or `fallback` when the key is absent (null is not absent: it throws).
    public func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        guard contains(key) else { return fallback }
        do {
            return try decode(T.self, forKey: key)
        } catch let error as DecodingError {
            throw error
        } catch let error as ConfigurationValueError {
            throw error
        } catch {
            // Foundation's JSONDecoder reports a number that does not fit (16.5 for an Int) with an
            // internal error that becomes "not valid JSON" without the key: name the key here.
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "is not a valid \(T.self) (\(error))",
                                                    underlyingError: error))
        }
    }
}
