import Foundation
import GlanceCore
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// Seeded mutation fuzzing of run configurations (char-LM with every mechanism family,
/// translation, forecasting): every mutated file either loads or throws a ConfigurationError,
/// and a loaded configuration whose training step fits in a few MiB builds its model (or
/// refuses it with an error). A trap fails the run.
@Suite struct ConfigurationFuzzTests {
    /// Valid tiny char-LM configurations, one per mechanism family.
    static let languageModelSeeds: [String] = [#""full""#, #"{"type": "performer", "features": 8, "redraw_every": 3}"#,
                                               #"{"type": "logsparse", "window": 2, "qk_kernel": 2, "subsequence": 8}"#,
                                               #"{"type": "longformer", "window": [4], "dilation": 1}"#,
                                               #"{"type": "reformer", "chunk_length": 4, "buckets": [2, 2], "hashes": 2}"#,
                                               #"{"type": "linformer", "k": 4, "sharing": "layerwise"}"#,
                                               #"{"type": "transformer_xl", "mem_len": 8}, "positions": "none""#,
                                               #"{"type": "lsra", "convolution": "lightweight", "kernel_size": [3], "attention_dimensions": 8}"#,
                                               #"{"type": "adaptive_span", "span": 8, "ramp": 2}"#].map { attention in
        #"{"model": {"vocab_size": 256, "context": 16, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "#
            + #""attention": \#(attention), "chunk_size_feed_forward": 8, "dropout": 0.1}, "#
            + #""training": {"batch_size": 4, "accumulation_steps": 2, "steps": 3, "seed": 7}, "data": {"corpus": "corpus"}, "output": "run"}"#
    }
    static let translationSeed = #"{"model": {"vocab_size": 300, "max_length": 20, "encoder_layers": 1, "decoder_layers": 1, "d_model": 16, "#
        + #""heads": 2, "ffn_dim": 32, "dropout": 0.1, "block": "pre-ln", "tie": "all"}, "training": {"batch_size": 4, "steps": 3, "#
        + #""learning_rate": 0.001, "warmup_steps": 1, "log_every": 1, "eval_every": 2, "seed": 1}, "#
        + #""data": {"bitext": "data/bible", "eval_sentences": 2, "beam": 2}, "output": "run"}"#
    static let forecastingSeed = #"{"model": {"layers": 1, "d_model": 16, "heads": 2, "dropout": 0.1, "attention": {"type": "logsparse", "#
        + #""qk_kernel": 3, "window": 2}, "context": 24, "horizon": 6, "likelihood": "student_t", "calendar": ["time_of_day"]}, "#
        + #""training": {"batch_size": 4, "steps": 3, "learning_rate": 0.001, "warmup_steps": 1, "seed": 1}, "#
        + #""data": {"file": "series.csv", "targets": ["load"], "covariates": ["temperature"], "validation_steps": 12, "test_steps": 12, "#
        + #""eval_windows": 2, "samples": 10}, "output": "run"}"#
    static let mutator = Mutator(fragments: Mutator.structuralFragments + ["\"layers\": 2,", "\"context\": 1,", "\"type\": \"full\",",
                                                                           "\"positions\": \"none\",", "\"tie\": \"none\","])
    /// The most memory a fuzzed training step may need for its model to be built.
    static let buildLimit = 16 << 20

    /// Fuzzes `cases` mutations of `seeds` as configurations of type `type`: each loads or throws
    /// a ConfigurationError; those whose training step fits in ``buildLimit`` are built with `build`.
    static func fuzz<Section: RunDataConfiguration>(_ type: RunConfiguration<Section>.Type, seeds: [String], cases: Int, seed: UInt64,
                                                 build: (RunConfiguration<Section>) throws -> Void) throws -> [String: Int] {
        let folder = try makeTemporaryFolder("glance-config-fuzz")
        defer { remove(folder) }
        let url = folder.appendingPathComponent("config.json")
        for text in seeds {
            try Data(text.utf8).write(to: url)
            #expect(throws: Never.self, "seed \(text)") { try loadConfiguration(RunConfiguration<Section>.self, from: url) }
        }
        var outcomes: [String: Int] = [:]
        var failures: [String] = []
        for index in 0..<cases {
            var random = RandomGenerator(seed: seed &+ UInt64(index))
            let text = mutator.mutate(seeds[index % seeds.count], &random)
            try Data(text.utf8).write(to: url)
            let configuration: RunConfiguration<Section>
            do {
                configuration = try loadConfiguration(RunConfiguration<Section>.self, from: url)
            } catch is ConfigurationError {
                outcomes["refused", default: 0] += 1
                continue
            } catch {
                failures.append("\(text): \(Swift.type(of: error)) \(error)")
                continue
            }
            let estimate = configuration.model.trainingMemory(microBatch: configuration.training.batchSize / configuration.training.accumulationSteps,
                                                              field: "training.batch_size")
            guard let bytes = estimate.bytes, bytes <= buildLimit else {
                outcomes["loaded, too large to build here", default: 0] += 1
                continue
            }
            do {
                try build(configuration)
                outcomes["built", default: 0] += 1
            } catch {
                outcomes["loaded, model refused", default: 0] += 1
            }
        }
        #expect(failures.isEmpty, "\(failures.count) configurations threw something else, e.g. \(failures.prefix(3))")
        return outcomes
    }

    @Test(.timeLimit(.minutes(2))) func mutatedLanguageModelConfigurationsLoadOrThrowConfigurationErrors() throws {
        let outcomes = try Self.fuzz(TrainingConfiguration.self, seeds: Self.languageModelSeeds, cases: 10_000, seed: 20_261_202) {
            _ = try CharacterLanguageModel(configuration: $0.model, seed: $0.training.seed)
        }
        #expect(outcomes["built", default: 0] > 150, "\(outcomes)")
        #expect(outcomes["refused", default: 0] > 3_000, "\(outcomes)")
    }

    @Test(.timeLimit(.minutes(1))) func mutatedTranslationAndForecastingConfigurationsLoadOrThrowConfigurationErrors() throws {
        let translation = try Self.fuzz(TranslationRunConfiguration.self, seeds: [Self.translationSeed], cases: 2_000, seed: 41_000) {
            _ = try EncoderDecoderModel(configuration: $0.model, seed: $0.training.seed)
        }
        let forecasting = try Self.fuzz(ForecastingConfiguration.self, seeds: [Self.forecastingSeed], cases: 2_000, seed: 42_000) {
            _ = try Forecaster(configuration: $0.model, featureCount: 3, seriesCount: 2, seed: $0.training.seed)
        }
        for outcomes in [translation, forecasting] {
            #expect(outcomes["built", default: 0] > 30 && outcomes["refused", default: 0] > 1_000, "\(outcomes)")
        }
    }
}
