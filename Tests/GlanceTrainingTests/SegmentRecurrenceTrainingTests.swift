import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// Training and evaluating the language model with Transformer-XL's carried memory.
@Suite struct SegmentRecurrenceTrainingTests {
    static let memoryModel = #""positions": "none", "attention": {"type": "transformer_xl", "mem_len": 16}"#

    func configuration(corpus: ByteCorpus, output: URL, steps: Int, dropout: Float = 0) throws -> TrainingConfiguration {
        TrainingConfiguration(model: try tinyModel(dropout: dropout, Self.memoryModel), training: tinyOptimization(steps: steps),
                              data: DataConfiguration(corpus: corpus.folder.path), output: output.path)
    }

    @Test("training streams segments, carries each layer's memory and lowers the loss")
    func trainingLowersLoss() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        var c = try configuration(corpus: corpus, output: folder.appendingPathComponent("run"), steps: 40)
        c.training.learningRate = 1e-2
        let trainer = try LanguageModelTrainer(configuration: c, corpus: corpus)
        let before = trainer.evaluate(.valid)
        let batch = trainer.task.nextBatch(size: 8)
        let streams = try #require(SegmentStreams(byteCount: corpus.train.count, streams: 8, length: 16))
        #expect(batch.inputs.values == streams.batch(from: corpus.train, segment: 0).inputs.values)
        trainer.task.samplerState.segment = 0
        let recorder = Recorder()
        try trainer.run(report: recorder.report)
        #expect(trainer.task.samplerState.segment == 40)
        #expect(trainer.carried[0].keys.sorted() == ["memory.0"] && trainer.carried[0]["memory.0"]?.shape == [8, 16, 16])
        let first = (1...5).map { recorder.losses[$0]! }.reduce(0, +) / 5
        let last = (36...40).map { recorder.losses[$0]! }.reduce(0, +) / 5
        #expect(last < first - 0.5, "training loss went from \(first) to \(last)")
        let after = trainer.evaluate(.valid)
        #expect(after < before - 0.5, "validation loss went from \(before) to \(after)")
    }

    @Test("evaluation with memory reads every byte of the split as one stream")
    func evaluationStreamsTheSplit() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let task = try LanguageModelTask(configuration: try configuration(corpus: corpus, output: folder, steps: 1), corpus: corpus)
        let bytes = corpus.bytes(of: .valid)
        var memories: [Tensor] = [], total = 0.0
        withoutGradients {
            task.model.eval()
            for segment in SegmentStreams.evaluationSegments(from: bytes, length: 16) {
                let result = task.model.loss(inputs: segment.inputs, targets: segment.targets, memories: memories)
                total += Double(result.loss.item()) * Double(segment.targets.count)
                memories = result.memories
            }
            task.model.train()
        }
        #expect(Swift.abs(Double(task.evaluate(.valid)) - total / Double(bytes.count - 1)) < 1e-6)
    }

    @Test("a resumed run restores the memories and the stream position and continues bit-identically (dropout, accumulation)")
    func exactResume() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let (_, a, resumed) = try expectExactResume(half: 7) { name in
            var c = try configuration(corpus: corpus, output: folder.appendingPathComponent(name), steps: 14, dropout: 0.1)
            c.training.accumulationSteps = 2
            return try LanguageModelTrainer(configuration: c, corpus: corpus)
        }
        #expect(resumed.task.samplerState == a.task.samplerState && a.task.samplerState.segment == 14)
        #expect(resumed.carried.map { bits($0) } == a.carried.map { bits($0) })
        #expect(a.carried.map { $0["memory.0"]?.shape } == [[4, 16, 16], [4, 16, 16]])
    }

    @Test("a train split too short for batch_size streams of one segment is rejected naming the file")
    func corpusTooSmallForStreams() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"), bytes: 1_000)
        var c = try configuration(corpus: corpus, output: folder, steps: 1)
        c.training.batchSize = 64
        #expect(throws: CorpusError.tooSmall(path: corpus.path(of: .train), bytes: corpus.train.count, needed: 64 * 17)) {
            try LanguageModelTask(configuration: c, corpus: corpus)
        }
    }

    @Test("a sampler state of an earlier checkpoint (the generator alone) reads with segment 0; a negative segment is rejected")
    func samplerDecoding() throws {
        let generator = RandomGenerator(seed: 4)
        let old = try JSONEncoder().encode(generator)
        let decoded = try JSONDecoder().decode(LanguageModelSampler.self, from: old)
        #expect(decoded.generator == generator && decoded.segment == 0)
        var sampler = LanguageModelSampler(seed: 4)
        sampler.segment = 9
        #expect(try JSONDecoder().decode(LanguageModelSampler.self, from: JSONEncoder().encode(sampler)) == sampler)
        let negative = String(decoding: try JSONEncoder().encode(sampler), as: UTF8.self).replacingOccurrences(of: "\"segment\":9", with: "\"segment\":-1")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LanguageModelSampler.self, from: Data(negative.utf8)) }
    }
}
