import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

/// Models whose parameters are shared by identity (tied embeddings, Linformer's layerwise
/// projection) train on the shared trainer, checkpoint the shared parameter once and resume
/// exactly.
@Suite struct SharedParameterTrainingTests {
    @Test("tied embeddings train, checkpoint the tied weight once and resume bit-identically")
    func tiedEmbeddings() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let (losses, a, resumed) = try expectExactResume(half: 10) { name in
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent(name), steps: 20, dropout: 0.1, learningRate: 1e-2)
            c.model.tieEmbeddings = true
            return try LanguageModelTrainer(configuration: c, corpus: corpus)
        }
        #expect(losses[20]! < losses[1]! - 1, "loss went from \(losses[1]!) to \(losses[20]!)")
        #expect(resumed.model.head.projection.weight === resumed.model.input.tokenEmbedding.weight)
        // The checkpoint holds the tied weight and its moments once, the head's bias apart.
        let keys = try SafeTensors.read(from: a.checkpointURL).tensors.keys
        #expect(keys.contains("model.input.tokenEmbedding.weight") && keys.contains("model.head.projection.bias") && !keys.contains { $0.contains("head.projection.weight") })
        #expect(keys.filter { $0.hasPrefix("optimizer.") && $0.contains("Embedding.weight") }.sorted() == ["optimizer.m.input.tokenEmbedding.weight", "optimizer.v.input.tokenEmbedding.weight"])
    }

    @Test("Linformer's layerwise projection is one parameter: it trains in every layer, is stored once and resumes bit-identically")
    func layerwiseLinformer() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try ClassificationTaskTests.separableCorpus(in: folder.appendingPathComponent("corpus"))
        let model = #""attention": {"type": "linformer", "k": 4, "sharing": "layerwise"}"#
        var initial: Tensor? = nil
        let (losses, a, resumed) = try expectExactResume(half: 10) { name in
            var c = try ClassificationTaskTests.configuration(corpus: folder.appendingPathComponent("corpus"), output: folder.appendingPathComponent(name),
                                                              steps: 20, dropout: 0.1, model)
            (c.model.layers, c.training.batchSize, c.training.checkpointEvery) = (3, 16, 5)
            let trainer = try ClassifierTrainer(configuration: c, corpus: corpus)
            initial = initial ?? trainer.model.parameterValues()["blocks.layers.0.attention.projection.key"]
            return trainer
        }
        #expect(a.model.parameterAliases() == ["blocks.layers.1.attention.projection.key": "blocks.layers.0.attention.projection.key",
                                               "blocks.layers.2.attention.projection.key": "blocks.layers.0.attention.projection.key"])
        let layers = resumed.model.blocks.compactMap { $0.attention as? Linformer }
        #expect(layers.count == 3 && layers.allSatisfy { $0.projection === layers[0].projection })
        let trained = try #require(a.model.parameterValues()["blocks.layers.0.attention.projection.key"])
        #expect(maxAbsoluteDifference(trained, initial!) > 1e-3, "the shared projection trained")
        let (first, last) = ((1...5).map { losses[$0]! }.reduce(0, +) / 5, (16...20).map { losses[$0]! }.reduce(0, +) / 5)
        #expect(last < first - 0.1, "training loss went from \(first) to \(last)")
        let stored = try SafeTensors.read(from: a.output.appendingPathComponent(ClassificationTask.modelName)).tensors
        #expect(stored.keys.filter { $0.contains("projection") } == ["blocks.layers.0.attention.projection.key"])
    }
}
