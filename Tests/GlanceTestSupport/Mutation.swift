import Foundation

/// Seeded mutations of a file's bytes for the fuzz tests and the campaign (tools/fuzz): a
/// decimal number replaced by a hostile literal, a fragment inserted, a byte range deleted, a
/// byte replaced, a range duplicated, a binary integer overwritten or the file truncated.
public struct Mutator: Sendable {
    /// Numbers that break sizes: zero, negatives, powers of two near the integer limits, non-integers.
    public static let hostileNumbers = ["0", "1", "-1", "2", "3", "16", "65536", "16777217", "4294967296", "4611686018427387904",
                                        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
                                        "1e300", "1.5", "-0", "nan", "inf"]
    /// Text that breaks structure: JSON punctuation, separators, control characters, deep nesting, lone surrogates.
    public static let structuralFragments = [",", ":", "[", "]", "{", "}", "\"", "\\", " ", ",,", "{}", "\t", "\n", "\r\n", "\u{0}",
                                             String(repeating: "[", count: 100), "\\ud800", "\u{FEFF}", "é", "null", "true"]

    /// Binary integers that break sizes and offsets (written little-endian, 1 to 8 bytes).
    public static let hostileIntegers: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, 1 << 62, .max]

    public var literals: [String]
    public var fragments: [String]

    public init(literals: [String] = Mutator.hostileNumbers, fragments: [String] = Mutator.structuralFragments) {
        (self.literals, self.fragments) = (literals, fragments)
    }

    /// `bytes` after 1 to `count` random mutations.
    public func mutate(_ bytes: [UInt8], times count: Int = 3, _ random: inout some RandomNumberGenerator) -> [UInt8] {
        var result = bytes
        for _ in 0...Int.random(in: 0..<count, using: &random) { mutateOnce(&result, &random) }
        return result
    }

    /// `text` after 1 to `count` random mutations (invalid UTF-8 repaired).
    public func mutate(_ text: String, times count: Int = 3, _ random: inout some RandomNumberGenerator) -> String {
        String(decoding: mutate(Array(text.utf8), times: count, &random), as: UTF8.self)
    }

    private func mutateOnce(_ bytes: inout [UInt8], _ random: inout some RandomNumberGenerator) {
        func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
        func isDigit(_ index: Int) -> Bool { bytes[index] >= 0x30 && bytes[index] <= 0x39 }
        switch bytes.isEmpty ? 1 : below(7) {
        case 0:
            let numbers = bytes.indices.filter { isDigit($0) && ($0 == 0 || !isDigit($0 - 1)) }
            guard !numbers.isEmpty else { return }
            let start = numbers[below(numbers.count)]
            var end = start
            while end < bytes.count, isDigit(end) || bytes[end] == UInt8(ascii: ".") { end += 1 }
            bytes.replaceSubrange(start..<end, with: Array(literals[below(literals.count)].utf8))
        case 1:
            bytes.insert(contentsOf: Array(fragments[below(fragments.count)].utf8), at: below(bytes.count + 1))
        case 2:
            let start = below(bytes.count)
            bytes.removeSubrange(start..<Swift.min(bytes.count, start + 1 + below(8)))
        case 3:
            bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
        case 4:
            let start = below(bytes.count)
            let copy = bytes[start..<Swift.min(bytes.count, start + 1 + below(32))]
            bytes.insert(contentsOf: copy, at: below(bytes.count + 1))
        case 5:
            // Headers hold the sizes: aim at the first 64 bytes half of the time.
            let start = below(below(2) == 0 ? Swift.min(bytes.count, 64) : bytes.count)
            let value = Self.hostileIntegers[below(Self.hostileIntegers.count)]
            for i in 0..<[1, 2, 4, 8][below(4)] where start + i < bytes.count {
                bytes[start + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
            }
        default:
            bytes.removeLast(below(Swift.min(bytes.count, 16) + 1))
        }
    }
}

/// Counts outcomes of a fuzz run and collects the inputs that failed in an unexpected way.
public struct FuzzTally: CustomStringConvertible {
    public private(set) var outcomes: [String: Int] = [:]
    public private(set) var failures: [String] = []

    public init() {}

    /// Runs `body`: returning counts as `accepted`, an error `isExpected` accepts counts under
    /// its case name, any other error is a failure described with `input`.
    public mutating func record(_ input: @autoclosure () -> String, accepted: String = "accepted",
                                isExpected: (any Error) -> Bool, _ body: () throws -> Void) {
        do {
            try body()
            outcomes[accepted, default: 0] += 1
        } catch where isExpected(error) {
            outcomes[Mirror(reflecting: error).children.first?.label ?? "\(type(of: error))", default: 0] += 1
        } catch {
            failures.append("\(input()): \(type(of: error)): \(error)")
        }
    }

    /// How many runs ended with `outcome`.
    public func count(_ outcome: String) -> Int { outcomes[outcome, default: 0] }

    /// Every run that ended in an expected error.
    public var refused: Int { outcomes.values.reduce(0, +) - count("accepted") }

    public var description: String {
        "\(outcomes.sorted { $0.key < $1.key }); \(failures.count) failures\(failures.prefix(5).map { "\n  " + $0 }.joined())"
    }
}
