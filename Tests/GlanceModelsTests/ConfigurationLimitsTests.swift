import Foundation
import GlanceModels
import GlanceTraining
import Testing

/// Strict JSON and size limits of configurations: every size field is checked before anything
/// is allocated, and a model or training step that cannot fit in memory is refused naming the
/// field that drives it.
@Suite struct ConfigurationLimitsTests {
    /// A configuration whose `section.key` is `value` (a JSON literal); the other sizes are the defaults.
    static func json(_ section: String, _ key: String, _ value: String, attention: String = #""full""#) -> String {
        let model = section == "model" ? #", "\#(key)": \#(value)"# : ""
        let training = section == "training" ? #""\#(key)": \#(value)"# : ""
        return #"{"data": {"corpus": "data/x"}, "model": {"attention": \#(attention)\#(model)}, "training": {\#(training)}}"#
    }

    /// Every size field (section, key, the field an error names), with a value that is within
    /// its limit but needs more than a TiB of memory (nil: the field cannot drive the memory).
    static let sizeFields: [(section: String, key: String, field: String, tooLarge: Int?)] = [
        ("model", "vocab_size", "model.vocab_size", 1 << 24),
        ("model", "context", "model.context", 1 << 20),
        ("model", "layers", "model.layers", 1 << 16),
        ("model", "d_model", "model.d_model", 1 << 20),
        ("model", "ffn_multiplier", "model.ffn_multiplier", 1 << 16),
        ("model", "chunk_size_feed_forward", "model.chunk_size_feed_forward", nil),
        ("training", "batch_size", "training.batch_size", 1 << 24),
    ]

    static func errorField(_ json: String) throws -> (field: String?, message: String) {
        let result = try ConfigurationTests.load(json)
        guard case let .failure(error) = result else { return (nil, "loaded") }
        return (ConfigurationTests.field(of: result), "\(error)")
    }

    @Test("2⁶², 2⁶³ − 1 and a size that needs more than a TiB are refused naming the field",
          arguments: sizeFields.indices)
    func sizeField(_ index: Int) throws {
        let (section, key, field, tooLarge) = Self.sizeFields[index]
        for value in [1 << 62, Int.max] {
            let (named, message) = try Self.errorField(Self.json(section, key, "\(value)"))
            #expect(named == field, "\(key) = \(value): \(message)")
            #expect(message.contains("must be at most"), "\(key) = \(value): \(message)")
        }
        if let tooLarge {
            let (named, message) = try Self.errorField(Self.json(section, key, "\(tooLarge)"))
            #expect(named == field, "\(key) = \(tooLarge): \(message)")
            #expect(message.contains("more than this machine's"), "\(key) = \(tooLarge): \(message)")
        }
    }

    @Test("heads: 2⁶², 2⁶³ − 1 are refused, and 4,096 heads' attention scores do not fit in 64 GiB, naming heads")
    func heads() throws {
        for value in [1 << 62, Int.max] {
            let (named, message) = try Self.errorField(Self.json("model", "heads", "\(value)"))
            #expect(named == "model.heads", "\(message)")
        }
        var model = LanguageModelConfiguration()
        (model.heads, model.modelDimensions) = (4096, 4096)
        #expect(throws: Never.self) { try model.parameterMemory().require(fitting: 1 << 36) }
        do {
            try model.trainingMemory(microBatch: 32, field: "training.batch_size").require(fitting: 1 << 36)
            Issue.record("4,096 heads' attention scores fit in 64 GiB")
        } catch let error as ConfigurationValueError {
            #expect(error.field == "model.heads" && error.reason.contains("attention scores"), "\(error)")
        }
    }

    /// Attention size options: the mechanism, the option, and a value within the limit that
    /// needs more than a TiB (nil: the option cannot exceed the context's share of memory).
    static let optionFields: [(mechanism: String, option: String, tooLarge: Int?)] = [
        ("performer", "features", 1 << 24), ("linformer", "k", nil), ("longformer", "window", nil),
        ("reformer", "buckets", nil), ("reformer", "chunk_length", nil), ("reformer", "hashes", 1 << 24),
        ("logsparse", "qk_kernel", 1 << 24), ("logsparse", "window", nil),
    ]

    @Test("attention size options: 2⁶², 2⁶³ − 1 and a value that needs more than a TiB are refused naming the option",
          arguments: optionFields.indices)
    func attentionOption(_ index: Int) throws {
        let (mechanism, option, tooLarge) = Self.optionFields[index]
        let field = "model.attention.\(option)"
        for value in [1 << 62, Int.max] + (tooLarge.map { [$0] } ?? []) {
            let attention = #"{"type": "\#(mechanism)", "\#(option)": \#(value)}"#
            let (named, message) = try Self.errorField(Self.json("training", "batch_size", "32", attention: attention))
            #expect(named == field, "\(mechanism) \(option) = \(value): \(message)")
        }
    }

    @Test("a bucket list whose product overflows is refused naming buckets")
    func bucketProductOverflow() throws {
        let attention = #"{"type": "reformer", "buckets": [16777216, 16777216, 16777216]}"#
        let (named, message) = try Self.errorField(Self.json("training", "batch_size", "32", attention: attention))
        #expect(named == "model.attention.buckets", "\(message)")
    }

    @Test("the memory estimate names the field, the estimate and the machine's memory")
    func estimateMessage() throws {
        var model = LanguageModelConfiguration()
        model.vocabularySize = 1 << 20
        #expect(throws: Never.self) { try model.checkSizes(memory: 1 << 40) }
        do {
            try model.checkSizes(memory: 1 << 30)
            Issue.record("a model of 8 GiB of parameter state fits in 1 GiB")
        } catch let error as ConfigurationValueError {
            #expect(error.field == "model.vocab_size")
            #expect(error.reason.contains("8.0 GiB") && error.reason.contains("1.0 GiB"), "\(error)")
        }
        let training = model.trainingMemory(microBatch: 32, field: "training.batch_size")
        #expect(training.bytes! > model.parameterMemory().bytes!)
    }

    @Test("duplicate keys and trailing commas are errors naming the file, line and key")
    func strictJSON() throws {
        let duplicate = "{\n  \"data\": {\"corpus\": \"x\"},\n  \"model\": {\"layers\": 2, \"layers\": 3}\n}"
        let trailing = "{\n  \"data\": {\"corpus\": \"x\"},\n  \"output\": \"runs/x\",\n}"
        for (json, needles) in [(duplicate, ["duplicate key 'layers'", "line 3"]), (trailing, ["trailing commas", "'output'", "line 4"])] {
            let result = try ConfigurationTests.load(json)
            guard case let .failure(error) = result, case .malformed = error as? ConfigurationError else {
                Issue.record("\(json) gave \(result)")
                continue
            }
            for needle in needles { #expect("\(error)".contains(needle), "\(error)") }
        }
    }
}
