import Foundation
import GlanceAttention
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// An Adaptive Span char-LM on the shared trainer: the spans are reported at every
/// validation, stored in checkpoints and restored exactly on resume.
@Suite struct AdaptiveSpanTrainingTests {
    @Test("validation reports each layer's mean and largest span; the penalty shrinks them; resume restores them exactly")
    func spansReportedAndResumed() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let (_, a, resumed) = try expectExactResume(half: 6) { name in
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent(name), steps: 12, learningRate: 3e-2)
            c.model = try tinyModel(#""attention": {"type": "adaptive_span", "span": 16, "ramp": 4, "init": 0.5, "loss_coefficient": 0.05}"#)
            (c.model.layers, c.training.evalEvery) = (2, 4)
            return try LanguageModelTrainer(configuration: c, corpus: corpus)
        }
        let recorder = Recorder()
        var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("c"), steps: 12, learningRate: 3e-2)
        c.model = a.task.configuration.model
        c.training.evalEvery = 4
        let run = try LanguageModelTrainer(configuration: c, corpus: corpus)
        try run.run(report: recorder.report)
        let validations = recorder.validations

        let spans = run.model.blocks.learnedSpans
        #expect(spans.count == 2 && spans.allSatisfy { $0?.count == 2 })
        let final = try #require(validations[12])
        for layer in 0..<2 {
            let heads = try #require(spans[layer])
            let mean = try #require(final["span_mean_\(layer)"]), largest = try #require(final["span_max_\(layer)"])
            #expect(abs(mean - Double(heads.reduce(0, +) / 2)) < 1e-5 && abs(largest - Double(heads.max()!)) < 1e-5, "\(final)")
            #expect(largest < 8, "a strong penalty shrinks the spans below the initial 0.5 × 16, got \(heads)")
        }
        #expect(validations[4]?["span_mean_0"] != nil && validations[8]?["span_max_1"] != nil, "every validation reports spans")
        #expect(resumed.model.blocks.learnedSpans == a.model.blocks.learnedSpans, "the checkpoint restores the spans")
    }

    @Test("models without Adaptive Span report no spans")
    func noSpans() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let trainer = try LanguageModelTrainer(configuration: try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("a"), steps: 1),
                                               corpus: corpus)
        #expect(trainer.model.blocks.learnedSpans == [nil])
        #expect(!trainer.task.validationMetrics().contains { $0.name.hasPrefix("span_") })
    }
}

extension AdaptiveSpanTrainingTests {
    @Test("with the cache, the model trains on contiguous streams and resumes exactly with its carried states")
    func cacheResumesExactly() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let (losses, a, _) = try expectExactResume(half: 5) { name in
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent(name), steps: 10, learningRate: 1e-2)
            c.model = try tinyModel(#""positions": "none", "attention": {"type": "adaptive_span", "span": 24, "ramp": 4, "init": 1, "cache": true}"#)
            return try LanguageModelTrainer(configuration: c, corpus: corpus)
        }
        #expect(a.model.memoryLength == 23)
        #expect(a.carried[0]["memory.0"]?.shape == [8, 23, 16], "each stream carries the last W − 1 = 23 states")
        #expect(losses[10]! < losses[1]!, "loss went from \(losses[1]!) to \(losses[10]!)")
    }
}
