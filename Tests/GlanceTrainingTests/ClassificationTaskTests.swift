import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

/// The classifier on the shared trainer: learning, the final report, exact resumption.
@Suite struct ClassificationTaskTests {
    /// Writes a two-class corpus into `folder`: class 0 documents are made of bytes below 128,
    /// class 1 of bytes above; random lengths from 4 to 15 bytes.
    static func separableCorpus(in folder: URL, train: Int = 64) throws -> LabelledTextCorpus {
        var generator = RandomGenerator(seed: 6)
        func documents(_ count: Int) -> [LabelledDocument] {
            (0..<count).map { i in
                let label = i % 2
                return LabelledDocument(label: label, bytes: (0..<(4 + generator.nextInt(below: 12))).map { _ in UInt8(label * 128 + generator.nextInt(below: 128)) })
            }
        }
        try LabelledTextCorpus.write(classNames: ["low", "high"], splits: [.train: documents(train), .valid: documents(16), .test: documents(16)], into: folder)
        return try LabelledTextCorpus(folder: folder)
    }

    static func configuration(corpus: URL, output: URL, steps: Int, dropout: Float = 0, _ model: String = "") throws -> ClassifierConfiguration {
        ClassifierConfiguration(model: try tinyModel(dropout: dropout, model), training: tinyOptimization(steps: steps),
                                data: ClassificationDataConfiguration(corpus: corpus.path), output: output.path)
    }

    @Test("a tiny classifier learns a separable task in a few dozen steps", arguments: [#""attention": "full""#, #""attention": {"type": "linformer", "k": 4}"#])
    func learns(_ attention: String) throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try Self.separableCorpus(in: folder)
        var configuration = try Self.configuration(corpus: folder, output: folder.appendingPathComponent("run"), steps: 40, attention)
        (configuration.training.batchSize, configuration.training.warmupSteps, configuration.training.evalEvery) = (16, 4, 20)
        let trainer = try ClassifierTrainer(configuration: configuration, corpus: corpus)
        let before = trainer.task.evaluate(.valid)
        let recorder = Recorder()
        try trainer.run(report: recorder.report)
        let summary = try #require(recorder.finished)
        #expect(summary.step == 40 && summary.tokensPerSecond > 0 && summary.exampleName == "documents")
        #expect(summary.validation["accuracy"] == 1 && summary.test["accuracy"]! >= 0.9, "before \(before), after \(summary.validation), test \(summary.test)")
        #expect(summary.validation["loss"]! < Double(before.loss) / 2)
        #expect(recorder.validations.keys.sorted() == [20, 40])
        // The parameters replace the run's checkpoint.
        #expect(recorder.checkpoints.map(\.step) == [40])
        #expect(FileManager.default.fileExists(atPath: trainer.output.appendingPathComponent(ClassificationTask.modelName).path))
        #expect(!FileManager.default.fileExists(atPath: trainer.checkpointURL.path))

        // eval_documents: a fixed sample of the validation and test documents.
        configuration.data.evaluationDocuments = 5
        let sampled = try ClassificationTask(configuration: configuration, corpus: corpus)
        #expect(sampled.evaluate(.valid).documents == 5 && sampled.evaluate(.test).documents == 5)
        #expect(sampled.evaluationDocuments[.test]!.allSatisfy { corpus.test.contains($0) })
        let again = try ClassificationTask(configuration: configuration, corpus: corpus)
        #expect(again.evaluationDocuments[.valid] == sampled.evaluationDocuments[.valid])
    }

    @Test("a resumed classifier run continues exactly like an uninterrupted one (dropout on, across epochs)")
    func exactResume() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        // 20 documents in batches of 8: epochs end inside batches 3, 5, 8, …
        let corpus = try Self.separableCorpus(in: folder.appendingPathComponent("corpus"), train: 20)
        func configuration(_ name: String) throws -> ClassifierConfiguration {
            var c = try Self.configuration(corpus: folder.appendingPathComponent("corpus"), output: folder.appendingPathComponent(name), steps: 12, dropout: 0.2)
            (c.training.checkpointEvery, c.training.evalEvery) = (4, 5)
            return c
        }
        let a = try ClassifierTrainer(configuration: configuration("a"), corpus: corpus)
        let recordA = Recorder()
        try a.run(report: recordA.report)

        let b = try ClassifierTrainer(configuration: configuration("b"), corpus: corpus)
        let recordB = Recorder()
        try b.run(stopAfter: 7, report: recordB.report)
        #expect(recordB.checkpoints.map(\.step) == [4, 7] && recordB.finished == nil)
        let resumed = try ClassifierTrainer(configuration: configuration("b"), corpus: corpus)
        try resumed.resume()
        #expect(resumed.step == 7 && resumed.task.samplerState == b.task.samplerState)
        let recordResumed = Recorder()
        try resumed.run(report: recordResumed.report)
        for step in 1...7 { #expect(recordB.losses[step]?.bitPattern == recordA.losses[step]?.bitPattern, "step \(step)") }
        #expect(recordResumed.losses.keys.sorted() == Array(8...12))
        for step in 8...12 { #expect(recordResumed.losses[step]?.bitPattern == recordA.losses[step]?.bitPattern, "step \(step)") }
        #expect(recordResumed.finished?.test == recordA.finished?.test && recordResumed.finished?.validation == recordA.finished?.validation)
        let model = ClassificationTask.modelName
        #expect(bits(try SafeTensors.read(from: resumed.output.appendingPathComponent(model)).tensors)
                == bits(try SafeTensors.read(from: a.output.appendingPathComponent(model)).tensors))
    }

    @Test("a language model's checkpoint does not resume a classifier")
    func otherTask() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let bytes = try englishCorpus(in: folder.appendingPathComponent("bytes"))
        let languageModel = try LanguageModelTrainer(configuration: try tinyTraining(corpus: bytes.folder, output: folder.appendingPathComponent("lm"), steps: 2),
                                                     corpus: bytes)
        try languageModel.run { _ in }
        let classifier = try ClassifierTrainer(configuration: try Self.configuration(corpus: folder.appendingPathComponent("labelled"), output: folder.appendingPathComponent("c"), steps: 2),
                                               corpus: try Self.separableCorpus(in: folder.appendingPathComponent("labelled")))
        #expect {
            try classifier.resume(from: languageModel.checkpointURL)
        } throws: { error in
            "\(error)".contains("language-model run, not of a classification run")
        }
        #expect(classifier.step == 0)
    }
}
