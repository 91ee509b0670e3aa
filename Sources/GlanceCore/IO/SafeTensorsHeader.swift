/// The element types Glance reads from safetensors files.
enum SafeTensorsDType: String {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element in the file.
    var width: Int { self == .f32 ? 4 : 2 }
}

/// One tensor of a safetensors header, checked against the file: its bytes lie inside the
/// body and their number is the shape's element count times the type's width.
struct SafeTensorsEntry {
    let name: String
    /// Nil for a tensor the reader was asked to skip (its bytes are only located, not checked).
    let dtype: SafeTensorsDType?
    let shape: [Int]
    /// Number of elements (the shape's product).
    let count: Int
    /// Byte range within the body (the bytes after the header).
    let bytes: Range<Int>
}

/// A safetensors header read strictly: every size is checked with overflow-safe arithmetic
/// before anything is allocated, and the tensors tile the body exactly (in offset order, each
/// starting where the one before ends, the last ending at the end of the file), as the
/// reference implementation requires. A header length that is off by a few bytes therefore
/// fails instead of shifting every value.
struct SafeTensorsHeader {
    /// Headers above this size are refused (the reference implementation's limit).
    static let maximumLength = 100_000_000

    /// The tensors in the order of their data.
    let entries: [SafeTensorsEntry]
    let metadata: [String: String]

    /// Parses and checks `bytes`, the header of the file at `path`, whose body (everything after
    /// the header) is `bodyLength` bytes long. Tensors named by `skipping` may have any dtype.
    init(parsing bytes: [UInt8], bodyLength: Int, path: String, skipping: (String) -> Bool = { _ in false }) throws {
        let root: JSONValue
        do { root = try StrictJSONParser.parse(bytes, maximumDepth: 8) } catch let error as StrictJSONError {
            throw SafeTensorsError.malformedHeader(path: path, detail: error.description)
        }
        guard case let .object(members) = root else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "not a JSON object but \(root.kind)")
        }
        var entries: [SafeTensorsEntry] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try Self.metadata(value, path: path)
            } else {
                entries.append(try Self.entry(name, value, bodyLength: bodyLength, path: path, skipped: skipping(name)))
            }
        }
        entries.sort { ($0.bytes.lowerBound, $0.bytes.upperBound) < ($1.bytes.lowerBound, $1.bytes.upperBound) }
        var end = 0
        var previous: String?
        for entry in entries {
            if entry.bytes.lowerBound < end {
                throw SafeTensorsError.badTensor(path: path, tensor: entry.name, detail: "overlaps tensor '\(previous ?? "")': its data starts at byte \(entry.bytes.lowerBound), before byte \(end)")
            }
            if entry.bytes.lowerBound > end {
                throw SafeTensorsError.badTensor(path: path, tensor: entry.name, detail: "starts at byte \(entry.bytes.lowerBound), leaving a gap after byte \(end) of the body (tensors must follow one another)")
            }
            end = entry.bytes.upperBound
            if !entry.bytes.isEmpty { previous = entry.name }
        }
        guard end == bodyLength else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "the tensors cover \(end) bytes but \(bodyLength) follow the header (wrong header length, or extra bytes at the end)")
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func metadata(_ value: JSONValue, path: String) throws -> [String: String] {
        guard case let .object(members) = value else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "__metadata__ is \(value.kind), not an object")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard case let .string(text) = entry else {
                throw SafeTensorsError.malformedHeader(path: path, detail: "metadata value for '\(key)' is \(entry.kind), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func entry(_ name: String, _ value: JSONValue, bodyLength: Int, path: String, skipped: Bool) throws -> SafeTensorsEntry {
        guard case let .object(members) = value else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' is \(value.kind), not an object")
        }
        var fields: [String: JSONValue] = [:]
        for (key, field) in members {
            guard ["dtype", "shape", "data_offsets"].contains(key) else {
                throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' has an unknown field '\(key)'")
            }
            fields[key] = field
        }
        guard case let .string(dtypeName)? = fields["dtype"], case let .array(shapeValues)? = fields["shape"],
              case let .array(offsetValues)? = fields["data_offsets"]
        else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' lacks dtype (a string), shape (an array) or data_offsets (an array)")
        }
        guard offsetValues.count == 2 else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' has \(offsetValues.count) data_offsets, not 2 (begin, end)")
        }
        guard let shape = naturalNumbers(shapeValues) else {
            throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "has an invalid shape \(describe(shapeValues)) (dimensions must be integers from 0 to \(Int.max))")
        }
        let dtype = SafeTensorsDType(rawValue: dtypeName)
        guard dtype != nil || skipped else {
            throw SafeTensorsError.unsupportedType(path: path, tensor: name, dtype: dtypeName)
        }
        // The product of the non-zero dimensions must fit, so that code computing strides of
        // an empty tensor cannot overflow either.
        var product = 1
        for dimension in shape where dimension > 0 {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "has shape \(describe(shapeValues)), whose element count overflows a 64-bit integer") }
            product = next
        }
        let count = shape.contains(0) ? 0 : product
        guard let offsets = naturalNumbers(offsetValues), offsets[0] <= offsets[1] else {
            throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "has invalid data offsets \(describe(offsetValues)) (begin ≤ end, both integers from 0 to \(Int.max))")
        }
        if let dtype, !skipped {
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.width)
            guard !overflow, offsets[1] - offsets[0] == byteCount else {
                throw SafeTensorsError.badTensor(path: path, tensor: name, detail: "holds \(offsets[1] - offsets[0]) bytes but shape \(describe(shapeValues)) of \(dtype.rawValue) needs \(overflow ? "more than \(Int.max)" : "\(byteCount)")")
            }
        }
        guard offsets[1] <= bodyLength else {
            throw SafeTensorsError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(offsets[1]) of a \(bodyLength)-byte body")
        }
        return SafeTensorsEntry(name: name, dtype: skipped ? nil : dtype, shape: shape, count: count, bytes: offsets[0]..<offsets[1])
    }

    /// The values as integers from 0 to Int.max, or nil if any is something else (a fraction,
    /// an exponent, a sign, a string, too large).
    private static func naturalNumbers(_ values: [JSONValue]) -> [Int]? {
        var numbers: [Int] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard case let .number(text) = value, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let number = Int(text)
            else { return nil }
            numbers.append(number)
        }
        return numbers
    }

    /// The values as written (the first eight), for error messages.
    private static func describe(_ values: [JSONValue]) -> String {
        "[" + values.prefix(8).map { value in
            switch value {
            case let .number(text): text
            case let .string(text): "\"\(text)\""
            default: value.kind
            }
        }.joined(separator: ", ") + (values.count > 8 ? ", … (\(values.count) in all)]" : "]")
    }
}
