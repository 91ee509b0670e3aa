import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Models whose parameters are shared by identity (tied embeddings, Linformer's layerwise
/// projection) train, checkpoint the shared parameter once and resume exactly.
@Suite struct SharedParameterTrainingTests {
    static func tiedTraining(corpus: URL, output: URL, steps: Int) -> TrainingConfiguration {
        var c = tinyTraining(corpus: corpus, output: output, steps: steps, dropout: 0.1, learningRate: 1e-2)
        c.model.tieEmbeddings = true
        return c
    }

    @Test("tie_embeddings: the head's weight is the token embedding, one parameter with its own bias")
    func tiedModel() throws {
        var c = tinyModel()
        c.tieEmbeddings = true
        let model = try CharacterLanguageModel(configuration: c, seed: 3)
        #expect(model.head.weight === model.tokenEmbedding.weight)
        #expect(model.parameterAliases() == ["head.weight": "tokenEmbedding.weight"])
        #expect(model.parameterValues()["head.bias"] != nil && model.parameterValues()["head.weight"] == nil)
        let untied = try CharacterLanguageModel(configuration: tinyModel(), seed: 3)
        #expect(untied.parameterCount() - model.parameterCount() == 256 * 16)
        #expect(untied.parameterAliases().isEmpty)
        let decoded = try JSONDecoder().decode(LanguageModelConfiguration.self, from: Data(#"{"tie_embeddings": true}"#.utf8))
        #expect(decoded.tieEmbeddings && !LanguageModelConfiguration().tieEmbeddings)
    }

    @Test("tie_embeddings with a reversible stack or in a classifier is an error naming the field")
    func tiedErrors() {
        var c = tinyModel()
        c.tieEmbeddings = true
        var reversible = c
        reversible.reversible = true
        #expect {
            _ = try CharacterLanguageModel(configuration: reversible, seed: 0)
        } throws: { ($0 as? ConfigurationValueError)?.field == "model.tie_embeddings" }
        #expect {
            _ = try TextClassifier(configuration: c, classes: 2, seed: 0)
        } throws: { ($0 as? ConfigurationValueError)?.field == "model.tie_embeddings" }
    }

    @Test("tied embeddings train with the trainer, checkpoint once and resume bit-identically")
    func tiedTrainingResumes() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try writeEnglishCorpus(into: folder.appendingPathComponent("corpus"))
        let steps = 20, half = 10
        var losses: [String: [Int: Float]] = [:]
        func run(_ trainer: LanguageModelTrainer, _ name: String, stopAfter: Int? = nil) throws {
            try trainer.run(stopAfter: stopAfter) { event in
                if case let .progress(step, loss, _, _, _) = event { losses[name, default: [:]][step] = loss }
            }
        }
        let a = try LanguageModelTrainer(configuration: Self.tiedTraining(corpus: corpus.folder, output: folder.appendingPathComponent("a"), steps: steps), corpus: corpus)
        try run(a, "a")
        #expect(losses["a"]![steps]! < losses["a"]![1]! - 1, "loss went from \(losses["a"]![1]!) to \(losses["a"]![steps]!)")
        // The checkpoint holds the tied weight and its moments once.
        let (tensors, _) = try SafeTensors.read(from: a.checkpointURL)
        #expect(tensors["model.tokenEmbedding.weight"] != nil && tensors["model.head.weight"] == nil && tensors["model.head.bias"] != nil)
        #expect(tensors.keys.filter { $0.hasPrefix("optimizer.") && $0.contains("Embedding.weight") }.sorted() == ["optimizer.m.tokenEmbedding.weight", "optimizer.v.tokenEmbedding.weight"])
        #expect(!tensors.keys.contains { $0.contains("head.weight") })

        let configurationB = Self.tiedTraining(corpus: corpus.folder, output: folder.appendingPathComponent("b"), steps: steps)
        try run(try LanguageModelTrainer(configuration: configurationB, corpus: corpus), "b", stopAfter: half)
        let resumed = try LanguageModelTrainer(configuration: configurationB, corpus: corpus)
        try resumed.resume()
        #expect(resumed.model.head.weight === resumed.model.tokenEmbedding.weight)
        try run(resumed, "resumed")
        for step in (half + 1)...steps {
            #expect(losses["resumed"]?[step]?.bitPattern == losses["a"]?[step]?.bitPattern, "step \(step)")
        }
        #expect(parameterBits(resumed.model.parameterValues()) == parameterBits(a.model.parameterValues()))
    }

    static func layerwiseLinformer() -> LanguageModelConfiguration {
        var c = tinyModel(layers: 3)
        c.attention = "linformer"
        c.linformerK = 4
        c.linformerSharing = "layerwise"
        return c
    }

    @Test("Linformer's layerwise projection is one parameter of the model and trains with the classifier trainer")
    func layerwiseLinformerTrains() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var generator = RandomGenerator(seed: 6)
        try LabelledTextCorpus.write(classNames: ["low", "high"],
                                     splits: [.train: separableDocuments(64, generator: &generator), .valid: separableDocuments(16, generator: &generator),
                                              .test: separableDocuments(16, generator: &generator)], into: folder)
        var training = OptimizationConfiguration()
        (training.batchSize, training.steps, training.warmupSteps, training.learningRate, training.evalEvery) = (16, 40, 3, 3e-3, 40)
        let configuration = ClassifierConfiguration(model: Self.layerwiseLinformer(), training: training,
                                                    data: ClassificationDataConfiguration(corpus: folder.path), output: folder.path)
        let trainer = try ClassifierTrainer(configuration: configuration, corpus: try LabelledTextCorpus(folder: folder))
        let model = trainer.model
        #expect(model.parameterAliases() == ["blocks.1.attention.projection.key": "blocks.0.attention.projection.key",
                                             "blocks.2.attention.projection.key": "blocks.0.attention.projection.key"])
        let projection = model.namedParameters().first { $0.key == "blocks.0.attention.projection.key" }!.parameter
        let initial = projection.value
        let before = trainer.evaluate(.valid)
        try trainer.run { _ in }
        let after = trainer.evaluate(.valid)
        #expect(after.loss < before.loss / 2 && after.accuracy >= 0.9, "before \(before), after \(after)")
        #expect(maxAbsoluteDifference(projection.value, initial) > 1e-3, "the shared projection trained")
        let (stored, _) = try SafeTensors.read(from: trainer.modelURL)
        #expect(stored.keys.filter { $0.contains("projection") } == ["blocks.0.attention.projection.key"])
    }

    @Test("a layerwise Linformer model checkpointed mid-run (parameters and AdamW moments) continues bit-identically")
    func layerwiseLinformerResumes() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var generator = RandomGenerator(seed: 7)
        let batches = (0..<8).map { _ in DocumentBatch(separableDocuments(8, generator: &generator), length: 16) }
        func makeRun() throws -> (TextClassifier, AdamW) {
            (try TextClassifier(configuration: Self.layerwiseLinformer(), classes: 2, seed: 5), AdamW(learningRate: 3e-3))
        }
        func train(_ model: TextClassifier, _ optimizer: AdamW, on steps: ArraySlice<DocumentBatch>) -> [Float] {
            steps.map { batch in
                let (loss, gradients) = valueAndGradient(model: model) { $0.loss(batch) }
                optimizer.update(model: model, gradients: gradients)
                return loss.item()
            }
        }
        let (a, optimizerA) = try makeRun()
        let lossesA = train(a, optimizerA, on: batches[...])

        let (b, optimizerB) = try makeRun()
        _ = train(b, optimizerB, on: batches[..<4])
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        var tensors = b.parameterValues().reduce(into: [String: Tensor]()) { $0["model.\($1.key)"] = $1.value }
        for (key, value) in optimizerB.stateTensors() { tensors["optimizer.\(key)"] = value }
        try SafeTensors.write(tensors, metadata: [:], to: url)
        #expect(tensors.keys.filter { $0.contains("projection") }.sorted() ==
            ["model.blocks.0.attention.projection.key", "optimizer.m.blocks.0.attention.projection.key", "optimizer.v.blocks.0.attention.projection.key"])

        let (resumed, optimizerResumed) = try makeRun()
        let (read, _) = try SafeTensors.read(from: url)
        var parameters: [String: Tensor] = [:], state: [String: Tensor] = [:]
        for (key, value) in read {
            if key.hasPrefix("model.") { parameters[String(key.dropFirst(6))] = value } else { state[String(key.dropFirst(10))] = value }
        }
        try resumed.update(parameters: parameters)
        try optimizerResumed.restore(state: state, step: optimizerB.step)
        let continued = train(resumed, optimizerResumed, on: batches[4...])
        #expect(continued.map(\.bitPattern) == lossesA[4...].map(\.bitPattern))
        #expect(parameterBits(resumed.parameterValues()) == parameterBits(a.parameterValues()))
        let layers = resumed.blocks.compactMap { $0.attention as? Linformer }
        #expect(layers.count == 3 && layers.allSatisfy { $0.projection === layers[0].projection })
    }
}
