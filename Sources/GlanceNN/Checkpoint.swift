import Foundation
import GlanceCore

/// Problems with a checkpoint on disk.
public enum CheckpointError: Error, CustomStringConvertible {
    case missing(path: String)
    case incompatible(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path): "no checkpoint at \(path)"
        case let .incompatible(path, reason): "checkpoint \(path) does not fit this model: \(reason)"
        }
    }
}

extension Module {
    /// Writes every parameter (trainable or not) to a safetensors file, atomically; a shared
    /// parameter once, under its first key.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(parameterValues(), metadata: metadata, to: url)
    }

    /// Loads parameters from a safetensors file, checking every name and shape first:
    /// on any problem nothing is changed and the error names the file and the keys. A shared
    /// parameter may be stored under its first key or an alias (``Module/update(parameters:requireAll:)``).
    @discardableResult
    public func load(from url: URL) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.missing(path: url.path) }
        let (tensors, metadata) = try SafeTensors.read(from: url)
        do { try update(parameters: tensors) } catch let error as ParameterLoadingError {
            throw CheckpointError.incompatible(path: url.path, reason: error.description)
        }
        return metadata
    }
}
