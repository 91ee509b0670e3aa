import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

@Suite struct TextClassifierTests {
    /// A tiny encoder configuration.
    static func configuration(attention: String = "full", context: Int = 8, layers: Int = 2, width: Int = 8, heads: Int = 2,
                              positions: String = "learned") -> LanguageModelConfiguration {
        var c = LanguageModelConfiguration()
        c.context = context
        c.layers = layers
        c.modelDimensions = width
        c.heads = heads
        c.feedForwardMultiplier = 2
        c.attention = attention == "linformer" ? AttentionConfiguration(LinformerOptions(k: 4))
            : AttentionConfiguration(try! AttentionRegistry.optionsType(named: attention).init())
        c.positions = positions
        return c
    }

    @Test("logits are [batch, classes]; Linformer and Performer build as encoders")
    func shapes() throws {
        for attention in ["full", "linformer", "performer"] {
            let model = try TextClassifier(configuration: Self.configuration(attention: attention), classes: 3, seed: 1)
            let batch = DocumentBatch([LabelledDocument(label: 0, bytes: Array("hello".utf8)), LabelledDocument(label: 2, bytes: Array("a long document".utf8))],
                                      length: 8)
            let logits = withoutGradients { model(batch.inputs, keyPadding: batch.keyPadding) }
            #expect(logits.shape == [2, 3], "\(attention)")
            #expect(model.classCount == 3)
            #expect(withoutGradients { model.loss(batch) }.item().isFinite)
        }
    }

    @Test("Linformer with layerwise sharing uses one projection in every layer")
    func layerwise() throws {
        var c = Self.configuration(attention: "linformer", layers: 3)
        c.attention = AttentionConfiguration(LinformerOptions(k: 4, sharing: .layerwise))
        let model = try TextClassifier(configuration: c, classes: 2, seed: 1)
        let projections = model.trainableParameters().filter { $0.key.contains("projection") }
        #expect(projections.count == 1, "\(projections.map(\.key))")
    }

    @Test("with full attention, padding does not change the logits", arguments: ["learned", "sinusoidal"])
    func paddingInvariance(_ positions: String) throws {
        let model = try TextClassifier(configuration: Self.configuration(context: 16, positions: positions), classes: 4, seed: 2)
        var random = TestRandom(seed: 3)
        let bytes = random.indices([5], below: 256).values.map(UInt8.init)
        let alone = withoutGradients { model(IndexTensor(bytes.map(Int.init), shape: [1, 5])) }
        let batch = DocumentBatch([LabelledDocument(label: 0, bytes: bytes), LabelledDocument(label: 1, bytes: Array(repeating: 7, count: 16))], length: 16)
        let padded = withoutGradients { model(batch.inputs, keyPadding: batch.keyPadding) }
        #expect(relativeError(Array(padded.scalars.prefix(4)), alone.scalars) < 1e-5)
        // The padding bytes themselves do not matter either.
        var other = batch.inputs.values
        for i in 5..<16 { other[i] = 200 }
        let changed = withoutGradients { model(IndexTensor(other, shape: [2, 16]), keyPadding: batch.keyPadding) }
        #expect(relativeError(changed.scalars, padded.scalars) < 1e-6)
    }

    @Test("gradients of every parameter match finite differences, with padding", arguments: ["full", "linformer"])
    func gradientCheck(_ attention: String) throws {
        let model = try TextClassifier(configuration: Self.configuration(attention: attention, context: 6, width: 4), classes: 3, seed: 4)
        var random = TestRandom(seed: 5)
        var values = model.parameterValues()
        // Larger weights than the 0.02 init so that every gradient stands above Float32 noise.
        for (key, value) in values.sorted(by: { $0.key < $1.key }) where !key.lowercased().contains("norm.weight") {
            values[key] = random.normal(value.shape, standardDeviation: 0.5)
        }
        try model.update(parameters: values)
        let parameters = model.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let batch = DocumentBatch([LabelledDocument(label: 0, bytes: [3, 9, 200]), LabelledDocument(label: 2, bytes: [1, 2, 3, 4, 5, 6, 7])], length: 6)
        let function = { (leaves: [Tensor]) -> Tensor in
            for (p, leaf) in zip(parameters, leaves) { p.parameter.value = leaf }
            return model(batch.inputs, keyPadding: batch.keyPadding)
        }
        let projection = randomProjection(shape: [2, 3])
        let (_, analytic) = valueAndGradient(at: saved) { (function($0) * projection).sum() }
        let numeric = numericalGradients(at: saved, step: 2e-3, projection: projection, function)
        for comparison in compareGradients(analytic: analytic, numeric: numeric, labels: parameters.map(\.key)) {
            #expect(comparison.passed, "\(comparison)")
        }
        var worst = 0.0
        for (key, (a, n)) in zip(parameters.map(\.key), zip(analytic, numeric)) where !key.hasSuffix("attention.key.bias") {
            let error = relativeError(a.scalars, n.scalars)
            worst = Swift.max(worst, error)
            #expect(error < 5e-2, "\(key): relative error \(error)")
        }
        if ProcessInfo.processInfo.environment["GLANCE_GRADCHECK_LOG"] != nil { print("classifier \(attention) gradient check: worst relative error \(worst)") }
    }

    @Test("fewer than 2 classes is an error")
    func oneClass() {
        #expect(throws: ConfigurationValueError.self) { try TextClassifier(configuration: Self.configuration(), classes: 1, seed: 0) }
    }
}

@Suite struct ClassifierConfigurationTests {
    static func load(_ json: String) throws -> Result<ClassifierConfiguration, ConfigurationError> {
        let folder = try makeTemporaryFolder("glance-classifier-config")
        defer { remove(folder) }
        let url = folder.appendingPathComponent("c.json")
        try Data(json.utf8).write(to: url)
        do { return .success(try loadConfiguration(ClassifierConfiguration.self, from: url)) } catch let error as ConfigurationError {
            #expect("\(error)".contains(url.path))
            return .failure(error)
        }
    }

    @Test("Linformer is accepted with its options; defaults as documented")
    func accepted() throws {
        let c = try Self.load(#"{"data": {"corpus": "x"}, "model": {"attention": {"type": "linformer", "k": 16, "sharing": "key-value"}, "context": 64}}"#).get()
        #expect(c.model.attention == AttentionConfiguration(LinformerOptions(k: 16, sharing: .keyValue)))
        #expect(c.data.validationFraction == 0.1 && c.output == "runs/classifier")
    }

    @Test("bad fields are errors naming the field",
          arguments: [
            (#"{"data": {"corpus": "x"}, "model": {"attention": {"type": "linformer", "k": 65}, "context": 64}}"#, "model.attention.k"),
            (#"{"data": {"corpus": "x"}, "model": {"attention": {"type": "linformer", "sharing": "all"}}}"#, "model.attention.sharing"),
            (#"{"data": {"corpus": "x"}, "model": {"attention": "linformer", "linformer_k": 16}}"#, "model.linformer_k"),
            (#"{"data": {"corpus": "x"}, "model": {"vocab_size": 128}}"#, "model.vocab_size"),
            (#"{"data": {"corpus": "x"}, "model": {"attention": "sparse"}}"#, "model.attention.type"),
            (#"{"data": {"corpus": "x", "validation_fraction": 1.5}}"#, "data.validation_fraction"),
            (#"{"data": {"corpus": "x", "split": 0.1}}"#, "data.split"),
            (#"{"data": {"corpus": "x", "eval_documents": 0}}"#, "data.eval_documents"),
            (#"{"data": {"corpus": "x"}, "task": "classification"}"#, "task"),
            (#"{"model": {}}"#, "data"),
            (#"{"data": {"corpus": "x"}, "training": {"batch_size": 0}}"#, "training.batch_size"),
          ])
    func rejected(_ json: String, _ field: String) throws {
        switch try Self.load(json) {
        case .success: Issue.record("\(json) was accepted")
        case let .failure(.unknownField(_, named, _)), let .failure(.invalidValue(_, named, _)): #expect(named == field, "\(json)")
        case let .failure(error): Issue.record("unexpected \(error)")
        }
    }
}
