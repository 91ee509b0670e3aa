import Foundation
import GlanceAttention
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

/// Strict configuration loading: every problem is a ConfigurationError naming the file and field.
@Suite struct ConfigurationTests {
    /// Writes `json` to a temporary file, loads it and returns the result or the error.
    static func load(_ json: String) throws -> Result<TrainingConfiguration, any Error> {
        let folder = try makeTemporaryFolder("glance-config-tests")
        defer { remove(folder) }
        let url = folder.appendingPathComponent("config.json")
        try Data(json.utf8).write(to: url)
        do { return .success(try loadConfiguration(TrainingConfiguration.self, from: url)) } catch {
            guard let error = error as? ConfigurationError else { return .failure(error) }
            // Every configuration error names the file it is about.
            guard "\(error)".contains(url.path) else { return .failure(WrongPath(error: error)) }
            return .failure(error)
        }
    }

    struct WrongPath: Error { let error: ConfigurationError }

    /// The field named by an `unknownField` or `invalidValue` error.
    static func field(of result: Result<TrainingConfiguration, any Error>) -> String? {
        guard case let .failure(error) = result, let error = error as? ConfigurationError else { return nil }
        switch error {
        case let .unknownField(_, field, _), let .invalidValue(_, field, _): return field
        default: return nil
        }
    }

    static let minimal = #"{"data": {"corpus": "data/x"}}"#

    @Test("a missing file is missingFile naming the path")
    func missingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/glance-\(UUID().uuidString)/config.json")
        #expect(throws: ConfigurationError.missingFile(path: url.path)) {
            _ = try loadConfiguration(TrainingConfiguration.self, from: url)
        }
        #expect(ConfigurationError.missingFile(path: url.path).description.contains(url.path))
    }

    @Test("malformed JSON is 'malformed'", arguments: ["{", "", "not json", #"{"model": {"context": 16}"#, #"{"model" 16}"#, "[1, 2]", "42", #""text""#, "null"])
    func malformed(_ json: String) throws {
        let result = try Self.load(json)
        guard case let .failure(error) = result, case .malformed = error as? ConfigurationError else {
            Issue.record("expected a malformed error for \(json.debugDescription), got \(result)")
            return
        }
    }

    @Test("unknown fields are rejected with their dotted name",
          arguments: [
            (#"{"data": {"corpus": "x"}, "foo": 1}"#, "foo"),
            (#"{"data": {"corpus": "x"}, "model": {"foo": 1}}"#, "model.foo"),
            (#"{"data": {"corpus": "x"}, "model": {"context": 16, "d_modle": 32}}"#, "model.d_modle"),
            (#"{"data": {"corpus": "x"}, "training": {"stpes": 10}}"#, "training.stpes"),
            (#"{"data": {"corpus": "x", "split": "train"}}"#, "data.split"),
            (#"{"data": {"corpus": "x"}, "model": {"Context": 16}}"#, "model.Context"),
          ])
    func unknownField(_ json: String, _ field: String) throws {
        let result = try Self.load(json)
        guard case let .failure(error) = result, case let .unknownField(_, name, known) = error as? ConfigurationError else {
            Issue.record("expected an unknown-field error for \(json), got \(result)")
            return
        }
        #expect(name == field)
        #expect("\(error)".contains(field))
        #expect(!known.isEmpty)
    }

    @Test("a wrong type names the field",
          arguments: [
            (#"{"data": {"corpus": "x"}, "model": {"context": "16"}}"#, "model.context"),
            (#"{"data": {"corpus": "x"}, "model": {"dropout": "0.1"}}"#, "model.dropout"),
            (#"{"data": {"corpus": "x"}, "model": {"context": 16.5}}"#, "model.context"),
            (#"{"data": {"corpus": "x"}, "model": {"attention": 3}}"#, "model.attention"),
            (#"{"data": {"corpus": "x"}, "training": {"steps": true}}"#, "training.steps"),
            (#"{"data": {"corpus": "x"}, "training": {"seed": -1}}"#, "training.seed"),
            (#"{"data": {"corpus": 5}}"#, "data.corpus"),
            (#"{"data": {"corpus": "x"}, "model": 5}"#, "model"),
            (#"{"data": {"corpus": "x"}, "output": ["a"]}"#, "output"),
          ])
    func wrongType(_ json: String, _ field: String) throws {
        let result = try Self.load(json)
        #expect(Self.field(of: result) == field, "\(json) → \(result)")
    }

    @Test("a missing required field names it",
          arguments: [(#"{}"#, "data"), (#"{"data": {}}"#, "data.corpus"), (#"{"model": {"context": 8}}"#, "data")])
    func missingRequired(_ json: String, _ field: String) throws {
        let result = try Self.load(json)
        #expect(Self.field(of: result) == field, "\(json) → \(result)")
    }

    @Test("null is not a value: it names the field instead of falling back to a default",
          arguments: [
            (#"{"data": {"corpus": "x"}, "model": {"context": null}}"#, "model.context"),
            (#"{"data": {"corpus": "x"}, "model": {"activation": null}}"#, "model.activation"),
            (#"{"data": {"corpus": "x"}, "training": {"steps": null}}"#, "training.steps"),
            (#"{"data": {"corpus": "x"}, "model": null}"#, "model"),
            (#"{"data": {"corpus": "x"}, "output": null}"#, "output"),
            (#"{"data": null}"#, "data"),
            (#"{"data": {"corpus": null}}"#, "data.corpus"),
          ])
    func nullValue(_ json: String, _ field: String) throws {
        let result = try Self.load(json)
        #expect(Self.field(of: result) == field, "\(json) → \(result)")
    }

    @Test("invalid values name the field",
          arguments: [
            (#""model": {"heads": 0}"#, "model.heads"),
            (#""model": {"heads": -1}"#, "model.heads"),
            (#""model": {"d_model": 30, "heads": 4}"#, "model.d_model"),
            (#""model": {"d_model": 0}"#, "model.d_model"),
            (#""model": {"dropout": 1}"#, "model.dropout"),
            (#""model": {"dropout": -0.1}"#, "model.dropout"),
            (#""model": {"attention": "nope"}"#, "model.attention.type"),
            (#""model": {"attention": {"type": "nope"}}"#, "model.attention.type"),
            (#""model": {"attention": {"kernel": "relu"}}"#, "model.attention.type"),
            (#""model": {"attention": {"type": "full", "linformer_k": 8}}"#, "model.attention.linformer_k"),
            (#""model": {"attention": {"type": "performer", "features": "many"}}"#, "model.attention.features"),
            (#""model": {"activation": "swish"}"#, "model.activation"),
            (#""model": {"positions": "rotary"}"#, "model.positions"),
            (#""model": {"context": 0}"#, "model.context"),
            (#""model": {"layers": 0}"#, "model.layers"),
            (#""model": {"vocab_size": 0}"#, "model.vocab_size"),
            (#""model": {"ffn_multiplier": 0}"#, "model.ffn_multiplier"),
            (#""model": {"attention": {"type": "logsparse", "qk_kernel": 0}}"#, "model.attention.qk_kernel"),
            (#""model": {"attention": {"type": "logsparse", "window": -1}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "logsparse", "subsequence": 0}}"#, "model.attention.subsequence"),
            (#""model": {"attention": {"type": "reformer", "hashes": 0}}"#, "model.attention.hashes"),
            (#""model": {"attention": {"type": "reformer", "chunk_length": 0}}"#, "model.attention.chunk_length"),
            (#""model": {"chunk_size_feed_forward": 0}"#, "model.chunk_size_feed_forward"),
            (#""model": {"reversible": "yes"}"#, "model.reversible"),
            (#""model": {"attention": {"type": "reformer", "chunks_before": -1}}"#, "model.attention.chunks_before"),
            (#""model": {"attention": {"type": "reformer", "buckets": 3}}"#, "model.attention.buckets"),
            (#""model": {"attention": {"type": "reformer", "buckets": [4, 6, 7]}}"#, "model.attention.buckets"),
            (#""model": {"attention": {"type": "reformer", "buckets": 512}}"#, "model.attention.buckets"),
            (#""model": {"attention": {"type": "reformer", "buckets": "many"}}"#, "model.attention.buckets"),
            (#""model": {"attention": {"type": "longformer", "window": 7}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "window": 0}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "window": -4}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "window": [8, 8]}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "window": [8, 8, 6, 3]}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "window": "wide"}}"#, "model.attention.window"),
            (#""model": {"attention": {"type": "longformer", "dilation": 0}}"#, "model.attention.dilation"),
            (#""model": {"attention": {"type": "longformer", "dilation": [1, 2]}}"#, "model.attention.dilation"),
            (#""model": {"attention": {"type": "longformer", "dilation": [1, 1, 1, -1]}}"#, "model.attention.dilation"),
            (#""model": {"attention": {"type": "longformer", "dilation": [[1, 1, 1, 1]]}}"#, "model.attention.dilation"),
            (#""training": {"steps": 0}"#, "training.steps"),
            (#""training": {"batch_size": 0}"#, "training.batch_size"),
            (#""training": {"learning_rate": 0}"#, "training.learning_rate"),
            (#""training": {"learning_rate": -1e-3}"#, "training.learning_rate"),
            (#""training": {"warmup_steps": -1}"#, "training.warmup_steps"),
            (#""training": {"min_lr_ratio": 1.5}"#, "training.min_lr_ratio"),
            (#""training": {"beta1": 1}"#, "training.beta1"),
            (#""training": {"beta2": -0.5}"#, "training.beta2"),
            (#""training": {"epsilon": 0}"#, "training.epsilon"),
            (#""training": {"grad_clip": -1}"#, "training.grad_clip"),
            (#""training": {"weight_decay": -0.1}"#, "training.weight_decay"),
            (#""training": {"log_every": 0}"#, "training.log_every"),
            (#""training": {"eval_every": 0}"#, "training.eval_every"),
            (#""training": {"eval_windows": 0}"#, "training.eval_windows"),
            (#""training": {"checkpoint_every": 0}"#, "training.checkpoint_every"),
          ])
    func invalidValue(_ fragment: String, _ field: String) throws {
        let json = #"{"data": {"corpus": "x"}, "# + fragment + "}"
        let result = try Self.load(json)
        guard case let .failure(error) = result, case .invalidValue = error as? ConfigurationError else {
            Issue.record("expected an invalid-value error for \(json), got \(result)")
            return
        }
        #expect(Self.field(of: result) == field, "\(json) → \(error)")
    }

    @Test("defaults fill every absent field")
    func defaults() throws {
        let configuration = try Self.load(Self.minimal).get()
        #expect(configuration.model == LanguageModelConfiguration())
        #expect(configuration.training == OptimizationConfiguration())
        #expect(configuration.data.corpus == "data/x")
        #expect(configuration.output == "runs/charlm")
        let m = configuration.model, t = configuration.training
        #expect([m.vocabularySize, m.context, m.layers, m.modelDimensions, m.heads, m.feedForwardMultiplier] as [Int] == [256, 256, 4, 256, 4, 4])
        #expect(m.activation == .gelu && m.dropout == 0 && m.attention == .full && m.positions == "learned")
        #expect([t.batchSize, t.steps, t.warmupSteps, t.logEvery, t.evalEvery, t.evalWindows, t.checkpointEvery] as [Int] == [32, 2000, 100, 10, 250, 64, 500])
        #expect(t.learningRate == 1e-3 && t.minimumLearningRateRatio == 0.1 && t.weightDecay == 0.1)
        #expect(t.beta1 == 0.9 && t.beta2 == 0.99 && t.epsilon == 1e-8 && t.gradientClip == 1 && t.seed == 1234)
    }

    @Test("given fields override defaults, the others keep theirs")
    func partialOverride() throws {
        let configuration = try Self.load(#"""
        {"model": {"context": 32, "d_model": 48, "heads": 3, "activation": "silu", "positions": "sinusoidal", "dropout": 0.25},
         "training": {"steps": 7, "learning_rate": 0.01, "seed": 18446744073709551615},
         "data": {"corpus": "c"}, "output": "runs/x"}
        """#).get()
        #expect(configuration.model.context == 32 && configuration.model.modelDimensions == 48 && configuration.model.heads == 3)
        #expect(configuration.model.activation == .silu && configuration.model.positions == "sinusoidal" && configuration.model.dropout == 0.25)
        #expect(configuration.model.layers == 4 && configuration.model.vocabularySize == 256)
        #expect(configuration.training.steps == 7 && configuration.training.learningRate == 0.01 && configuration.training.seed == .max)
        #expect(configuration.training.batchSize == 32)
        #expect(configuration.output == "runs/x")
    }

    @Test("Longformer options: one window or one per layer; dilation for all heads, per head, or per layer and head")
    func longformerOptions() throws {
        let configuration = try Self.load(#"""
        {"model": {"attention": {"type": "longformer", "window": [4, 8], "dilation": [[1, 1], [1, 3]]}, "layers": 2, "heads": 2, "d_model": 8},
         "data": {"corpus": "c"}}
        """#).get()
        #expect(configuration.model.attention == AttentionConfiguration(LongformerOptions(window: .perLayer([4, 8]), dilation: .perLayer([[1, 1], [1, 3]]))))
        let shared = try Self.load(#"{"model": {"attention": {"type": "longformer", "window": 128, "dilation": [1, 2]}, "heads": 2, "d_model": 8}, "data": {"corpus": "c"}}"#).get()
        #expect(shared.model.attention == AttentionConfiguration(LongformerOptions(window: .all(128), dilation: .perHead([1, 2]))))
        let defaulted = try Self.load(#"{"model": {"attention": {"type": "longformer"}}, "data": {"corpus": "c"}}"#).get()
        #expect(defaulted.model.attention == AttentionConfiguration(LongformerOptions(window: .all(512), dilation: .all(1))))
    }

    @Test("an old flat configuration is an error naming the field and showing the new form", arguments: [
        (#""model": {"attention": "performer", "performer_features": 256}"#, "model.performer_features", #""attention": {"type": "performer", "features": 256}"#),
        (#""model": {"linformer_k": 64}"#, "model.linformer_k", #""attention": {"type": "linformer", "k": 64}"#),
        (#""model": {"lsh_num_hashes": 2}"#, "model.lsh_num_hashes", #""attention": {"type": "reformer", "hashes": 2}"#),
        (#""model": {"qk_kernel": 3}"#, "model.qk_kernel", #""attention": {"type": "logsparse", "qk_kernel": 3}"#),
        (#""model": {"attention_window": 512}"#, "model.attention_window", #""attention": {"type": "longformer", "window": 512}"#),
        (#""model": {"performer_kernel": "relu"}"#, "model.performer_kernel", #""attention": {"type": "performer", "kernel": "relu"}"#),
    ])
    func formerFlatOptions(_ model: String, _ field: String, _ newForm: String) throws {
        let result = try Self.load("{\(model), \"data\": {\"corpus\": \"x\"}}")
        guard case let .failure(error) = result, case let .invalidValue(_, name, reason) = error as? ConfigurationError else {
            Issue.record("expected an invalid-value error, got \(result)")
            return
        }
        #expect(name == field && reason.contains(newForm), "\(reason)")
    }

    @Test("reversible and chunk_size_feed_forward stay model-level options")
    func modelLevelOptions() throws {
        let configuration = try Self.load(#"{"model": {"attention": {"type": "reformer", "hashes": 2}, "reversible": true, "chunk_size_feed_forward": 8}, "data": {"corpus": "x"}}"#).get()
        #expect(configuration.model.reversible && configuration.model.feedForwardChunk == 8)
        #expect(configuration.model.attention == AttentionConfiguration(ReformerOptions(hashes: 2)))
    }

    @Test("every activation name loads", arguments: Activation.allCases)
    func activations(_ activation: Activation) throws {
        let configuration = try Self.load(#"{"data": {"corpus": "x"}, "model": {"activation": "\#(activation.rawValue)"}}"#).get()
        #expect(configuration.model.activation == activation)
    }

    @Test("the configurations shipped in configs/ load")
    func shippedConfigurations() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        // The classifier configs (glance classify) are the 20 Newsgroups pair.
        let classifierFiles = ["20ng-full.json", "20ng-linformer.json"]
        // Forecasting configs (data.targets) are checked by ForecasterTests, speech configs by SpeechRecognitionTaskTests.
        for file in files where !classifierFiles.contains(file) && !file.hasPrefix("forecast-") && !file.hasPrefix("speech-") {
            let url = configs.appendingPathComponent(file)
            #expect(throws: Never.self, "\(file)") {
                // Translation configs (translate-*, a data section with a bitext) are translation runs.
                if file.hasPrefix("translate-") {
                    _ = try loadConfiguration(TranslationRunConfiguration.self, from: url)
                } else {
                    _ = try loadConfiguration(TrainingConfiguration.self, from: url)
                }
            }
        }
        // The pair differs only in the attention and the run folder.
        let pair = try classifierFiles.map { try loadConfiguration(ClassifierConfiguration.self, from: configs.appendingPathComponent($0)) }
        #expect(pair[0].model.attention.type == "full" && pair[1].model.attention.type == "linformer")
        var aligned = pair[1]
        aligned.model.attention = pair[0].model.attention
        aligned.output = pair[0].output
        #expect(aligned == pair[0])
    }

    @Test("a configuration survives encoding and decoding")
    func roundTrip() throws {
        var configuration = TrainingConfiguration(data: DataConfiguration(corpus: "somewhere"), output: "runs/y")
        configuration.model.context = 64
        configuration.model.activation = .glu
        configuration.training.gradientClip = 0
        configuration.model.attention = AttentionConfiguration(LongformerOptions(
            window: .perLayer([2, 4, 6, 8]), dilation: .perLayer([[1, 2, 1, 2], [1, 1, 1, 1], [2, 2, 2, 2], [1, 1, 3, 3]])))
        let data = try JSONEncoder().encode(configuration)
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let url = folder.appendingPathComponent("c.json")
        try data.write(to: url)
        #expect(try loadConfiguration(TrainingConfiguration.self, from: url) == configuration)
    }
}
