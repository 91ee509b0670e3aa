import Foundation
import GlanceCore
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// Seeded mutation fuzzing of configurations: every mutated file either loads or throws a
/// ConfigurationError, and a loaded configuration whose training step fits in a few MiB builds
/// its model (or refuses the mechanism with an error). A trap fails the run.
@Suite struct ConfigurationFuzzTests {
    /// Valid tiny configurations, one per mechanism family.
    static let seeds: [String] = [#""full""#, #"{"type": "performer", "features": 8, "redraw_every": 3}"#,
                                  #"{"type": "logsparse", "window": 2, "qk_kernel": 2, "subsequence": 8}"#,
                                  #"{"type": "longformer", "window": [4], "dilation": 1}"#,
                                  #"{"type": "reformer", "chunk_length": 4, "buckets": [2, 2], "hashes": 2}"#,
                                  #"{"type": "linformer", "k": 4, "sharing": "layerwise"}"#].map { attention in
        #"{"model": {"vocab_size": 256, "context": 16, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "#
            + #""attention": \#(attention), "chunk_size_feed_forward": 8, "dropout": 0.1}, "#
            + #""training": {"batch_size": 4, "accumulation_steps": 2, "steps": 3, "seed": 7}, "data": {"corpus": "corpus"}, "output": "run"}"#
    }
    static let literals = ["0", "1", "-1", "2", "3", "16", "4611686018427387904", "9223372036854775807", "9223372036854775808",
                           "-9223372036854775808", "18446744073709551616", "1e300", "1.5", "-0", "null", "true", "\"\"", "[]", "{}",
                           "[0]", "[4611686018427387904, 4]", "65536", "16777216", "16777217"]
    static let fragments = [",", ":", "[", "]", "{", "}", "\"", "\\", " ", ",,", "{}", "\"layers\": 2,", "\"context\": 1,",
                            "\"type\": \"full\",", String(repeating: "[", count: 100), "\u{0}", "\\ud800"]
    /// The most memory a fuzzed training step may need for its model to be built.
    static let buildLimit = 16 << 20

    /// `text` with one random mutation: a number replaced by a hostile literal, a fragment
    /// inserted, a byte range deleted or a byte replaced.
    static func mutate(_ text: String, _ random: inout RandomGenerator) -> String {
        var bytes = Array(text.utf8)
        switch random.nextInt(below: 4) {
        case 0:
            let numbers = bytes.indices.filter { (bytes[$0] >= 0x30 && bytes[$0] <= 0x39) && ($0 == 0 || !(bytes[$0 - 1] >= 0x30 && bytes[$0 - 1] <= 0x39)) }
            guard let start = numbers.randomElement(using: &random) else { break }
            var end = start
            while end < bytes.count, bytes[end] >= 0x30 && bytes[end] <= 0x39 { end += 1 }
            bytes.replaceSubrange(start..<end, with: Array(literals.randomElement(using: &random)!.utf8))
        case 1:
            bytes.insert(contentsOf: Array(fragments.randomElement(using: &random)!.utf8), at: random.nextInt(below: bytes.count + 1))
        case 2:
            let start = random.nextInt(below: bytes.count)
            bytes.removeSubrange(start..<Swift.min(bytes.count, start + 1 + random.nextInt(below: 8)))
        default:
            bytes[random.nextInt(below: bytes.count)] = UInt8(truncatingIfNeeded: random.next())
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(.timeLimit(.minutes(2))) func mutatedConfigurationsLoadOrThrowConfigurationErrors() throws {
        let folder = try makeTemporaryFolder("glance-config-fuzz")
        defer { remove(folder) }
        let url = folder.appendingPathComponent("config.json")
        var outcomes: [String: Int] = [:]
        var failures: [String] = []
        for index in 0..<10_000 {
            var random = RandomGenerator(seed: 20_261_202 &+ UInt64(index))
            var text = Self.seeds[index % Self.seeds.count]
            for _ in 0...random.nextInt(below: 3) { text = Self.mutate(text, &random) }
            try Data(text.utf8).write(to: url)
            let configuration: TrainingConfiguration
            do {
                configuration = try loadConfiguration(TrainingConfiguration.self, from: url)
            } catch is ConfigurationError {
                outcomes["refused", default: 0] += 1
                continue
            } catch {
                failures.append("\(text): \(type(of: error)) \(error)")
                continue
            }
            let model = configuration.model
            let estimate = model.trainingMemory(microBatch: configuration.training.batchSize / configuration.training.accumulationSteps,
                                                field: "training.batch_size")
            guard let bytes = estimate.bytes, bytes <= Self.buildLimit else {
                outcomes["loaded, too large to build here", default: 0] += 1
                continue
            }
            do {
                _ = try CharacterLanguageModel(configuration: model, seed: configuration.training.seed)
                outcomes["built", default: 0] += 1
            } catch {
                outcomes["loaded, model refused", default: 0] += 1
            }
        }
        #expect(failures.isEmpty, "\(failures.count) configurations threw something else, e.g. \(failures.prefix(3))")
        #expect(outcomes["built", default: 0] > 150, "\(outcomes)")
        #expect(outcomes["refused", default: 0] > 3_000, "\(outcomes)")
    }
}
