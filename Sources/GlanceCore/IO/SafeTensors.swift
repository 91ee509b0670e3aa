import Foundation

/// Problems found while reading or writing a safetensors file. Each names the file.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case truncated(path: String, detail: String)
    case malformedHeader(path: String, detail: String)
    case unsupportedType(path: String, tensor: String, dtype: String)
    case badTensor(path: String, tensor: String, detail: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read safetensors file \(path): \(reason)"
        case let .truncated(path, detail): "safetensors file \(path) is truncated: \(detail)"
        case let .malformedHeader(path, detail): "safetensors file \(path) has a malformed header: \(detail)"
        case let .unsupportedType(path, tensor, dtype): "safetensors file \(path): tensor '\(tensor)' has unsupported dtype \(dtype) (F32, F16 and BF16 are read)"
        case let .badTensor(path, tensor, detail): "safetensors file \(path): tensor '\(tensor)' \(detail)"
        case let .unwritable(path, reason): "cannot write safetensors file \(path): \(reason)"
        }
    }
}

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON
/// header mapping names to dtype, shape and byte offsets, then the raw little-endian data.
public enum SafeTensors {
    /// Reads every tensor (F32, F16 or BF16, converted to Float32) and the metadata.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else { throw SafeTensorsError.truncated(path: path, detail: "\(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw SafeTensorsError.truncated(path: path, detail: "header of \(headerLength) bytes but only \(data.count - 8) follow")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "not a JSON object")
        }
        let body = 8 + Int(headerLength)
        let bodyLength = data.count - body
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw SafeTensorsError.malformedHeader(path: path, detail: "__metadata__ is not an object") }
                for (key, entry) in entries {
                    guard let text = entry as? String else { throw SafeTensorsError.malformedHeader(path: path, detail: "metadata value for '\(key)' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else { throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard shape.allSatisfy({ $0 >= 0 }), (entry["shape"] as? [Any])?.count == shape.count else {
                throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "has an invalid shape")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw SafeTensorsError.unsupportedType(path: path, tensor: name, dtype: dtype)
            }
            let count = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "has invalid data offsets \(offsets)")
            }
            guard offsets[1] - offsets[0] == count * width else {
                throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "holds \(offsets[1] - offsets[0]) bytes but shape \(shape) of \(dtype) needs \(count * width)")
            }
            guard offsets[1] <= bodyLength else {
                throw SafeTensorsError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(offsets[1]) of a \(bodyLength)-byte body")
            }
            tensors[name] = data.withUnsafeBytes { raw in
                let start = raw.baseAddress! + body + offsets[0]
                return Tensor(shape: shape) { out in
                    switch dtype {
                    case "F32":
                        for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: (start + 4 * i).loadUnaligned(as: UInt32.self))) }
                    case "F16":
                        for i in 0..<count { out[i] = halfToFloat(UInt16(littleEndian: (start + 2 * i).loadUnaligned(as: UInt16.self))) }
                    default:
                        for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: (start + 2 * i).loadUnaligned(as: UInt16.self))) << 16) }
                    }
                }
            }
        }
        return (tensors, metadata)
    }

    /// Writes tensors as F32 (names sorted) with optional metadata. The file is written to a
    /// temporary name beside `url` and renamed, so an existing file is never left half-written.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.count]] as [String: Any]
            offset += 4 * tensor.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + headerData.count) % 8 != 0 { headerData.append(0x20) }
        var file = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerData)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                file.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self), count: 4 * buffer.count))
                #else
                for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { file.append(contentsOf: $0) } }
                #endif
            }
        }
        try writeAtomically(file, to: url)
    }
}

/// Writes `data` to a temporary file in the destination's folder, then renames it over the
/// destination: readers see the old file or the new one, never a partial write.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try data.write(to: temporary)
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw SafeTensorsError.unwritable(path: url.path, reason: error.localizedDescription)
    }
    // rename(2) replaces an existing destination atomically. (FileManager.replaceItemAt on
    // Linux deletes the destination and then fails, losing both files.)
    guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw SafeTensorsError.unwritable(path: url.path, reason: reason)
    }
}

/// IEEE 754 half precision to single precision.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        let value = Float(mantissa) * 0x1p-24
        return sign == 0 ? value : -value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
}
