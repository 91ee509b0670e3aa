/// A JSON value as written. Object members keep their order; numbers keep their literal text,
/// so that the reader decides what range and form it accepts. Safetensors headers are read
/// with it; configuration files can be too.
public enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(a), .array(b)): a == b
        case let (.string(a), .string(b)), let (.number(a), .number(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// A short name of the value's kind, for error messages.
    public var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// Why a text is not strict JSON, and where (1-based line and byte column).
public struct StrictJSONError: Error, CustomStringConvertible {
    public let message: String
    public let line: Int
    public let column: Int

    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// An RFC 8259 JSON parser that accepts nothing else: duplicate keys, trailing commas, leading
/// zeros, unescaped control characters, invalid UTF-8, lone surrogates and anything but
/// whitespace after the value are errors, and so is nesting deeper than `maximumDepth` (which
/// bounds the recursion on hostile input).
public struct StrictJSONParser {
    private let bytes: [UInt8]
    private let maximumDepth: Int
    private var position = 0

    /// Parses `bytes` as one JSON value.
    public static func parse(_ bytes: [UInt8], maximumDepth: Int = 64) throws -> JSONValue {
        var parser = StrictJSONParser(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 1)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func error(_ message: String) -> StrictJSONError {
        let before = bytes[..<min(position, bytes.count)]
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return StrictJSONError(message: message, line: before.count { $0 == UInt8(ascii: "\n") } + 1, column: position - lineStart + 1)
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ literal: String) throws {
        for byte in literal.utf8 {
            guard current == byte else { throw error("expected '\(literal)'") }
            position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard let byte = current else { throw error("unexpected end of text, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character '\(Unicode.Scalar(byte))', expected a value")
        }
    }

    private mutating func enter(depth: Int) throws {
        guard depth <= maximumDepth else { throw error("nesting deeper than \(maximumDepth) levels") }
        position += 1
        skipWhitespace()
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        try enter(depth: depth)
        var members: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            guard current == UInt8(ascii: "\"") else { throw error(members.last.map { "expected a key after ',' following '\($0.key)' (trailing commas are not allowed)" } ?? "expected a key") }
            let keyStart = position
            let key = try parseString()
            guard keys.insert(key).inserted else {
                position = keyStart
                throw error("duplicate key '\(key)'")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after key '\(key)'") }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1; skipWhitespace()
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw error("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        try enter(depth: depth)
        var elements: [JSONValue] = []
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            if current == UInt8(ascii: "]") { throw error("expected a value after ',' (trailing commas are not allowed)") }
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1; skipWhitespace()
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    /// A number's literal text after checking its grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func parseNumber() throws -> String {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        if current == UInt8(ascii: "0") {
            position += 1
            if let next = current, isDigit(next) { throw error("a number may not have leading zeros") }
        } else {
            try digits()
        }
        if current == UInt8(ascii: ".") {
            position += 1
            try digits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            try digits()
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func digits() throws {
        guard let first = current, isDigit(first) else { throw error("expected a digit") }
        while let byte = current, isDigit(byte) { position += 1 }
    }

    private mutating func parseString() throws -> String {
        position += 1  // the opening quote
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = String(validating: utf8, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                utf8.append(contentsOf: try parseEscape())
            case ..<0x20:
                throw error("control character 0x\(String(byte, radix: 16)) in a string must be escaped")
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    /// The UTF-8 bytes of one escape sequence, the backslash already consumed.
    private mutating func parseEscape() throws -> [UInt8] {
        guard let byte = current else { throw error("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return [byte]
        case UInt8(ascii: "b"): return [0x08]
        case UInt8(ascii: "f"): return [0x0C]
        case UInt8(ascii: "n"): return [0x0A]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "u"):
            var code = try hexQuad()
            if (0xD800..<0xDC00).contains(code) {
                guard current == UInt8(ascii: "\\") else { throw error("high surrogate without a low surrogate") }
                position += 1
                try expect("u")
                let low = try hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw error("high surrogate without a low surrogate") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(code) {
                throw error("low surrogate without a high surrogate")
            }
            return Array(String(Character(Unicode.Scalar(code)!)).utf8)
        default:
            throw error("invalid escape '\\\(Unicode.Scalar(byte))'")
        }
    }

    private mutating func hexQuad() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw error("expected four hexadecimal digits after \\u") }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
