import GlanceCore
import Testing

@Suite struct StrictJSONTests {
    private func parse(_ text: String, maximumDepth: Int = 64) throws -> JSONValue {
        try StrictJSONParser.parse(Array(text.utf8), maximumDepth: maximumDepth)
    }

    /// The error for `text`, or nil if it parses.
    private func failure(_ text: String, maximumDepth: Int = 64) -> StrictJSONError? {
        failure(Array(text.utf8), maximumDepth: maximumDepth)
    }

    private func failure(_ bytes: [UInt8], maximumDepth: Int = 64) -> StrictJSONError? {
        do {
            _ = try StrictJSONParser.parse(bytes, maximumDepth: maximumDepth)
            return nil
        } catch {
            return error as? StrictJSONError
        }
    }

    @Test func parsesEveryKindOfValueInOrder() throws {
        let value = try parse(#" { "b" : [1, -2.5e+3, 0, 0.125E-2], "a": {"t": true, "f": false, "n": null}, "s": "" } "#)
        #expect(value == .object([
            ("b", .array([.number("1"), .number("-2.5e+3"), .number("0"), .number("0.125E-2")])),
            ("a", .object([("t", .bool(true)), ("f", .bool(false)), ("n", .null)])),
            ("s", .string("")),
        ]))
        #expect(try parse("[]") == .array([]) && parse("{}") == .object([]) && parse("\t\r\n7\n") == .number("7"))
    }

    @Test func decodesEscapesAndUnicode() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        #expect(try parse(#""\u00e9\u20AC\ud83d\ude00""#) == .string("é€😀"))
        #expect(try parse("\"é€😀\"") == .string("é€😀"))
    }

    @Test(arguments: [
        (#"{"a": 1, "a": 2}"#, "duplicate key 'a'", 1, 10),
        ("{\"x\": {\"k\": 1,\n \"k\": 2}}", "duplicate key 'k'", 2, 2),
        (#"{"a": 1,}"#, "trailing commas", 1, 9),
        ("[1, 2,]", "trailing commas", 1, 7),
        ("[1 2]", "expected ',' or ']'", 1, 4),
        ("{\"a\" 1}", "expected ':'", 1, 6),
        ("01", "leading zeros", 1, 2),
        ("-", "expected a digit", 1, 2),
        ("1.", "expected a digit", 1, 3),
        ("1e", "expected a digit", 1, 3),
        ("+1", "unexpected character '+'", 1, 1),
        ("\"a\tb\"", "control character 0x9", 1, 3),
        (#""\x""#, "invalid escape", 1, 4),
        (#""\u12G4""#, "hexadecimal", 1, 6),
        (#""\ud83d""#, "high surrogate", 1, 8),
        (#""\ud83d\u0041""#, "high surrogate", 1, 14),
        (#""\ude00""#, "low surrogate", 1, 8),
        ("\"abc", "unterminated string", 1, 5),
        ("tru", "expected 'true'", 1, 4),
        ("{} x", "after the JSON value", 1, 4),
        ("", "unexpected end", 1, 1),
    ])
    func rejectsWhatIsNotStrictJSON(_ text: String, _ message: String, _ line: Int, _ column: Int) {
        let error = failure(text)
        #expect(error?.message.contains(message) == true, "\(text): \(String(describing: error))")
        #expect(error?.line == line && error?.column == column, "\(text): \(String(describing: error))")
    }

    @Test func rejectsInvalidUTF8() {
        #expect(failure([0x22, 0xC3, 0x28, 0x22])?.message.contains("UTF-8") == true)
        #expect(failure([0x22, 0xED, 0xA0, 0x80, 0x22])?.message.contains("UTF-8") == true)  // an encoded surrogate
    }

    @Test func boundsTheNesting() throws {
        #expect(try parse("[[[1]]]", maximumDepth: 3) == .array([.array([.array([.number("1")])])]))
        #expect(failure("[[[[1]]]]", maximumDepth: 3)?.message.contains("deeper than 3") == true)
        #expect(failure(#"{"a":{"b":{"c":{}}}}"#, maximumDepth: 3)?.message.contains("deeper than 3") == true)
        // Far deeper than any stack allows: an error, not a crash.
        #expect(failure(String(repeating: "[", count: 1_000_000))?.message.contains("deeper than 64") == true)
    }
}
