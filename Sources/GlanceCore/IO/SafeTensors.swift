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
    /// Reads every tensor (F32, F16 or BF16, converted to Float32) and the metadata; tensors
    /// whose names `skipping` accepts are left out, whatever their dtype (a checkpoint's integer
    /// counters such as BatchNorm's `num_batches_tracked`).
    ///
    /// The header is checked in full before any tensor is allocated (strict JSON, every size
    /// overflow-checked, the tensors tiling the body, the file as long as the header says).
    /// Then F32 tensors (on little-endian machines, at offsets that are a multiple of 4) use
    /// the file's bytes in place: the file is mapped privately (``MappedFile``) and each such
    /// tensor's pages are mapped in from the page cache, nothing copied; writes to those
    /// tensors stay private. F16 and BF16 tensors are read once, straight into their final
    /// storage, and widened there.
    ///
    /// The file must keep its length while its tensors are in use: one truncated before the
    /// read is an error naming it, one truncated during the read too (where the system can
    /// tell: Linux 5.14 and later), but one truncated later makes the next use of a mapped
    /// page raise SIGBUS, as with any mapped file. Replacing the file by rename (as
    /// ``write(_:metadata:to:)`` does) is safe: the mapping keeps the old file.
    public static func read(from url: URL, skipping: (String) -> Bool = { _ in false }) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let path = url.path
        let file = try ReadableFile(path: path)
        guard file.size >= 8 else { throw SafeTensorsError.truncated(path: path, detail: "\(file.size) bytes, shorter than the 8-byte header length") }
        var lengthField: UInt64 = 0
        try file.read(into: &lengthField, count: 8, at: 0)
        let declaredLength = UInt64(littleEndian: lengthField)
        guard declaredLength <= UInt64(file.size - 8) else {
            throw SafeTensorsError.truncated(path: path, detail: "header of \(declaredLength) bytes but only \(file.size - 8) follow")
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= SafeTensorsHeader.maximumLength else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "header of \(headerLength) bytes is larger than the limit of \(SafeTensorsHeader.maximumLength)")
        }
        let headerBytes = try [UInt8](unsafeUninitializedCapacity: headerLength) { buffer, initialized in
            if let start = buffer.baseAddress { try file.read(into: start, count: headerLength, at: 8) }
            initialized = headerLength
        }
        let bodyStart = 8 + headerLength
        let header = try SafeTensorsHeader(parsing: headerBytes, bodyLength: file.size - bodyStart, path: path, skipping: skipping)
        let mapping = try header.entries.contains { isMappable($0, at: bodyStart + $0.bytes.lowerBound) } ? MappedFile(file) : nil
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(header.entries.count)
        for entry in header.entries {
            guard let dtype = entry.dtype else { continue }
            let offset = bodyStart + entry.bytes.lowerBound
            if let mapping, isMappable(entry, at: offset) {
                try mapping.populate(offset..<offset + entry.bytes.count)
                let pointer = (mapping.base + offset).assumingMemoryBound(to: Float.self)
                tensors[entry.name] = Tensor(shape: entry.shape, storage: TensorStorage(borrowing: pointer, count: entry.count, owner: mapping))
            } else {
                tensors[entry.name] = try readTensor(entry, dtype: dtype, from: file, at: offset)
            }
        }
        return (tensors, header.metadata)
    }

    /// Whether the entry's bytes, at `offset` in the file, can serve as its tensor's storage
    /// in place: non-empty little-endian F32 at an offset that is a multiple of 4.
    private static func isMappable(_ entry: SafeTensorsEntry, at offset: Int) -> Bool {
        #if _endian(little)
        entry.dtype == .f32 && entry.count > 0 && offset % MemoryLayout<Float>.alignment == 0
        #else
        false
        #endif
    }

    /// Reads one checked entry into a new tensor's storage. F32 lands in place; F16 and BF16
    /// land in the storage's upper half and are widened in place, front to back.
    private static func readTensor(_ entry: SafeTensorsEntry, dtype: SafeTensorsDType, from file: ReadableFile, at offset: Int) throws -> Tensor {
        let tensor = Tensor(uninitializedShape: entry.shape)
        let storage = UnsafeMutableRawPointer(tensor.storage.pointer)
        switch dtype {
        case .f32:
            try file.read(into: storage, count: entry.bytes.count, at: offset)
            #if _endian(big)
            for i in 0..<entry.count { tensor.storage.pointer[i] = Float(bitPattern: UInt32(littleEndian: tensor.storage.pointer[i].bitPattern)) }
            #endif
        case .f16:
            try file.read(into: storage + 2 * entry.count, count: entry.bytes.count, at: offset)
            widenInPlace(storage, count: entry.count) { halfToFloat($0) }
        case .bf16:
            try file.read(into: storage + 2 * entry.count, count: entry.bytes.count, at: offset)
            widenInPlace(storage, count: entry.count) { Float(bitPattern: UInt32($0) << 16) }
        }
        return tensor
    }

    /// Writes tensors as F32 (names sorted) with optional metadata, tensor by tensor straight
    /// from their storage (the file is never built in memory). The file is written to a
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
        let prefix = withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { Data($0) } + headerData
        try writeAtomically(to: url) { file in
            try prefix.withUnsafeBytes { try file.write($0) }
            for name in names {
                try tensors[name]!.withUnsafeBufferPointer { buffer in
                    #if _endian(little)
                    try file.write(UnsafeRawBufferPointer(buffer))
                    #else
                    try buffer.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try file.write($0) }
                    #endif
                }
            }
        }
    }
}

/// Widens `count` little-endian 16-bit values stored at `base + 2·count` into `count` Float32
/// values at `base`. Going front to back, output `i` (bytes 4i..<4i+4) ends at or before input
/// `i + 1` (byte 2·count + 2i + 2, as i < count), so no input is overwritten before it is read.
/// Raw loads and stores: the compiler must assume that the two ranges alias.
@inline(__always)
private func widenInPlace(_ base: UnsafeMutableRawPointer, count: Int, _ widen: (UInt16) -> Float) {
    let source = base + 2 * count
    for i in 0..<count {
        let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        base.storeBytes(of: widen(bits), toByteOffset: 4 * i, as: Float.self)
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
