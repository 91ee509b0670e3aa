import Foundation
import GlanceCore
import GlanceNN

/// The kinds of Hugging Face model folder Glance can load, by the `model_type` of their
/// config.json: the registry `glance run` and `glance generate --model` dispatch on.
public enum PretrainedModelType: String, CaseIterable, Sendable {
    /// `LongformerModel` (or a task model's encoder): ``LongformerEncoder``.
    case longformer
    /// `ReformerModelWithLMHead`: ``ReformerLanguageModel``.
    case reformer
    /// `TransfoXLLMHeadModel` (transformers ≤ 4.57.6): ``TransfoXLLanguageModel``.
    case transfoXL = "transfo-xl"

    /// The type of the model in `folder`, from its config.json. Throws a
    /// ``PretrainedCheckpointError`` when the file is missing or unreadable, or when its
    /// `model_type` is absent or not one of ``allCases``.
    public static func of(folder: URL) throws -> PretrainedModelType {
        let url = folder.appendingPathComponent("config.json")
        let object = try PretrainedCheckpoint.jsonObject(at: url)
        guard let value = object["model_type"] else {
            throw PretrainedCheckpointError.invalid(path: url.path, field: "model_type", reason: "is missing: Glance cannot tell which model this is")
        }
        guard let name = value as? String, let type = PretrainedModelType(rawValue: name) else {
            throw PretrainedCheckpointError.unsupportedModelType(path: url.path, modelType: "\(value)", supported: allCases.map(\.rawValue))
        }
        return type
    }
}

/// A Hugging Face model folder (or one of its files) that cannot be used.
public enum PretrainedCheckpointError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, hint: String)
    case unsupportedModelType(path: String, modelType: String, supported: [String])
    /// config.json holds a value that cannot work; `field` is Hugging Face's name.
    case invalid(path: String, field: String, reason: String)
    /// model.safetensors lacks tensors the model needs, under Hugging Face's keys.
    case missingWeights(path: String, keys: [String])
    /// model.safetensors holds tensors this model does not have (another architecture or head).
    case unexpectedWeights(path: String, keys: [String])
    case mismatchedWeight(path: String, key: String, expected: [Int], found: [Int])
    /// Two keys of one shared (tied) weight hold different values.
    case differingCopies(path: String, keys: [String])

    public var description: String {
        switch self {
        case let .missingFile(path, hint): "\(path) does not exist (\(hint))"
        case let .unsupportedModelType(path, modelType, supported):
            "\(path): 'model_type' \(modelType) is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .invalid(path, field, reason): "\(path): '\(field)' \(reason)"
        case let .missingWeights(path, keys): "\(path) lacks \(keys.count) weight(s) of the model: \(Self.list(keys))"
        case let .unexpectedWeights(path, keys): "\(path) holds \(keys.count) weight(s) this model does not have: \(Self.list(keys))"
        case let .mismatchedWeight(path, key, expected, found): "\(path): '\(key)' has shape \(found), the model needs \(expected)"
        case let .differingCopies(path, keys): "\(path): \(keys.joined(separator: " and ")) are one tied weight of the model but hold different values"
        }
    }

    private static func list(_ keys: [String]) -> String {
        keys.count <= 8 ? keys.joined(separator: ", ") : keys.prefix(8).joined(separator: ", ") + ", …"
    }
}

/// A Hugging Face config.json as Glance reads it: decoded, then checked by `validate()`, which
/// throws a ``ConfigurationValueError`` naming the field.
protocol PretrainedConfiguration: Decodable {
    func validate() throws
    /// What the model's weights need in memory, by config field (see PretrainedMemory.swift).
    func parameterMemory() -> MemoryEstimate
}

/// The feed-forward activation of a config.json's `hidden_act`; throws naming that field.
func huggingFaceActivation(named name: String) throws -> Activation {
    switch name {
    case "relu": return .relu
    case "gelu": return .gelu
    case "silu", "swish": return .silu
    default: throw ConfigurationValueError(field: "hidden_act", reason: "'\(name)' is not supported (relu, gelu, silu)")
    }
}

/// A parameter key of a Glance model in Hugging Face's naming: the first prefix of `top` that
/// starts `key` is replaced by its counterpart; a key under `blocks.<i>.` becomes
/// `layers` + `<i>.` + the rest with its first matching prefix of `inBlock` replaced. Keys that
/// match neither come back unchanged.
func huggingFaceKey(for key: String, top: [(String, String)], inBlock: [(String, String)], layers: String) -> String {
    if let (from, to) = top.first(where: { key.hasPrefix($0.0) }) { return to + key.dropFirst(from.count) }
    let parts = key.split(separator: ".", maxSplits: 2)
    guard parts.count == 3, parts[0] == "blocks", Int(parts[1]) != nil else { return key }
    let rest = String(parts[2])
    guard let (from, to) = inBlock.first(where: { rest.hasPrefix($0.0) }) else { return key }
    return layers + "\(parts[1])." + to + rest.dropFirst(from.count)
}

/// Reading the files of a model folder as `save_pretrained` writes it.
enum PretrainedCheckpoint {
    /// The JSON object in `url`; errors name the file.
    static func jsonObject(at url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PretrainedCheckpointError.missingFile(path: url.path, hint: "a Hugging Face model folder holds config.json and model.safetensors")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PretrainedCheckpointError.invalid(path: url.path, field: "(file)", reason: "is not a JSON object")
        }
        return object
    }

    /// Decodes config.json into `type`, naming the file and the field on errors.
    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        _ = try jsonObject(at: url)
        do {
            return try JSONDecoder().decode(T.self, from: try Data(contentsOf: url))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw PretrainedCheckpointError.invalid(path: url.path, field: field.isEmpty ? "(file)" : field, reason: context.debugDescription)
        }
    }

    /// The configuration in `folder`/config.json, decoded and validated; errors
    /// (``PretrainedCheckpointError``) name the file and the field.
    static func configuration<T: PretrainedConfiguration>(_ type: T.Type, in folder: URL) throws -> T {
        let url = folder.appendingPathComponent("config.json")
        let configuration = try decode(T.self, from: url)
        do {
            try configuration.validate()
            try configuration.parameterMemory().require()
        } catch let error as ConfigurationValueError {
            throw PretrainedCheckpointError.invalid(path: url.path, field: error.field, reason: error.reason)
        }
        return configuration
    }

    /// The tensors of `folder`/model.safetensors, less those `skipping` names; a folder with
    /// only pytorch_model.bin gets an error that says how to convert it.
    static func weights(in folder: URL, skipping: (String) -> Bool = { _ in false }) throws -> (url: URL, tensors: [String: Tensor]) {
        let url = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            let pyTorch = FileManager.default.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin").path)
            throw PretrainedCheckpointError.missingFile(
                path: url.path,
                hint: pyTorch ? "the folder has pytorch_model.bin, which Glance does not read: convert it with "
                    + "from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)"
                    : "a Hugging Face model folder holds config.json and model.safetensors")
        }
        return (url, try SafeTensors.read(from: url, skipping: skipping).tensors)
    }
}
