import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

/// The trainer on a small English corpus: learning, exact resumption, checkpoint safety.
@Suite struct LanguageModelTrainerTests {
    @Test("training on English text lowers the training and validation loss")
    func lossDecreases() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        var configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 80, learningRate: 1e-2)
        configuration.training.evalEvery = 40
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        let before = trainer.evaluate(.valid)
        #expect(Swift.abs(before - Float(Foundation.log(256.0))) < 0.2, "initial validation loss \(before)")
        let recorder = Recorder()
        try trainer.run(report: recorder.report)
        #expect(trainer.step == 80)
        #expect(recorder.losses.count == 80)
        let first = (1...10).map { recorder.losses[$0]! }.reduce(0, +) / 10
        let last = (71...80).map { recorder.losses[$0]! }.reduce(0, +) / 10
        #expect(last < first - 1, "training loss went from \(first) to \(last)")
        #expect(recorder.validations.keys.sorted() == [40, 80])
        let after = trainer.evaluate(.valid)
        #expect(after < before - 1, "validation loss went from \(before) to \(after)")
        #expect(recorder.finished?.step == 80)
        #expect(recorder.finished.map { Swift.abs($0.validation["loss"]! - Double(after)) < 1e-6 } == true)
        #expect(recorder.finished?.validation.map(\.name) == ["loss", "bpc"] && recorder.finished?.test == [])
        // The final checkpoint exists and holds the step.
        #expect(recorder.checkpoints.map(\.step) == [80])
        let (_, metadata) = try SafeTensors.read(from: trainer.checkpointURL)
        #expect(metadata["format"] == "glance-checkpoint-2")
        #expect(metadata["glance.training_state"]?.contains("\"step\":80") == true)
    }

    @Test("a resumed run continues exactly like an uninterrupted one (dropout on)")
    func exactResume() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let steps = 24, half = 12
        func configuration(_ name: String) throws -> TrainingConfiguration {
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent(name), steps: steps, dropout: 0.2)
            c.training.checkpointEvery = 5
            c.training.evalEvery = 7
            return c
        }
        // Run A: all steps at once.
        let a = try LanguageModelTrainer(configuration: configuration("a"), corpus: corpus)
        let recordA = Recorder()
        try a.run(report: recordA.report)
        // Run B: stops halfway; a new trainer resumes from its checkpoint.
        let b = try LanguageModelTrainer(configuration: configuration("b"), corpus: corpus)
        let recordB = Recorder()
        try b.run(stopAfter: half, report: recordB.report)
        #expect(b.step == half)
        #expect(recordB.checkpoints.last?.step == half)
        #expect(recordB.finished == nil)
        for step in 1...half { #expect(recordB.losses[step] == recordA.losses[step], "step \(step)") }
        let resumed = try LanguageModelTrainer(configuration: configuration("b"), corpus: corpus)
        try resumed.resume()
        #expect(resumed.step == half)
        #expect(bits(resumed.model.parameterValues()) == bits(b.model.parameterValues()))
        let recordResumed = Recorder()
        try resumed.run(report: recordResumed.report)
        #expect(resumed.step == steps)
        #expect(recordResumed.losses.keys.sorted() == Array((half + 1)...steps))
        for step in (half + 1)...steps {
            #expect(recordResumed.losses[step]?.bitPattern == recordA.losses[step]?.bitPattern,
                    "step \(step): resumed \(recordResumed.losses[step] ?? .nan), uninterrupted \(recordA.losses[step] ?? .nan)")
        }
        #expect(bits(resumed.model.parameterValues()) == bits(a.model.parameterValues()))
        #expect(recordResumed.finished?.validation["loss"]?.bitPattern == recordA.finished?.validation["loss"]?.bitPattern)
        // The final checkpoints hold the same tensors (parameters and optimizer moments).
        let (tensorsA, _) = try SafeTensors.read(from: a.checkpointURL)
        let (tensorsB, _) = try SafeTensors.read(from: resumed.checkpointURL)
        #expect(bits(tensorsA) == bits(tensorsB))
        #expect(tensorsA.keys.contains { $0.hasPrefix("optimizer.") })
    }

    @Test("without the saved random state, dropout would change the continuation")
    func dropoutStateMatters() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 10, dropout: 0.2)
        let a = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try a.run(stopAfter: 5) { _ in }
        let resumed = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try resumed.resume()
        let reference = try a.trainStep()
        #expect(try resumed.trainStep() == reference)
        // Same parameters, data and optimizer, another dropout stream: another loss.
        let other = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try other.resume()
        other.model._randomSource.generator = RandomGenerator(seed: 123)
        #expect(try other.trainStep() != reference)
    }

    /// A trainer that has taken two steps (so its parameters differ from any checkpoint's).
    static func trainerWithState(_ folder: URL, corpus: ByteCorpus, name: String = "victim") throws -> LanguageModelTrainer {
        let trainer = try LanguageModelTrainer(configuration: try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent(name), steps: 10),
                                               corpus: corpus)
        try trainer.trainStep()
        try trainer.trainStep()
        return trainer
    }

    /// Writes a good checkpoint at step 3 and returns its URL.
    static func goodCheckpoint(_ folder: URL, corpus: ByteCorpus) throws -> URL {
        let trainer = try LanguageModelTrainer(configuration: try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("good"), steps: 10),
                                               corpus: corpus)
        try trainer.run(stopAfter: 3) { _ in }
        return trainer.checkpointURL
    }

    /// Rewrites a checkpoint with `edit` applied to its tensors and metadata.
    static func edited(_ source: URL, to target: URL, _ edit: (inout [String: Tensor], inout [String: String]) -> Void) throws -> URL {
        var (tensors, metadata) = try SafeTensors.read(from: source)
        edit(&tensors, &metadata)
        try SafeTensors.write(tensors, metadata: metadata, to: target)
        return target
    }

    enum BadCheckpoint: String, CaseIterable {
        case wrongParameterShape, wrongMomentShape, missingParameter, unknownEntry, otherModel, otherTask, unknownFormat, noTrainingState
        case truncated, empty, notSafetensors, missing
        case zeroGenerator, shortGenerator, negativeStep, stepBeyondSteps, negativeOptimizerStep, nonFiniteParameter, nonFiniteMoment
    }

    /// Rewrites a checkpoint with `edit` applied to its training state's JSON object.
    static func editedState(_ source: URL, to target: URL, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        _ = try edited(source, to: target) { _, metadata in
            var state = try! JSONSerialization.jsonObject(with: Data(metadata["glance.training_state"]!.utf8)) as! [String: Any]
            edit(&state)
            metadata["glance.training_state"] = String(decoding: try! JSONSerialization.data(withJSONObject: state), as: UTF8.self)
        }
    }

    @Test("a bad checkpoint throws and leaves the trainer unchanged", arguments: BadCheckpoint.allCases)
    func badCheckpoint(_ kind: BadCheckpoint) throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let good = try Self.goodCheckpoint(folder, corpus: corpus)
        let bad = folder.appendingPathComponent("bad.safetensors")
        switch kind {
        case .wrongParameterShape:
            _ = try Self.edited(good, to: bad) { tensors, _ in tensors["model.head.projection.weight"] = Tensor.zeros([256, 8]) }
        case .wrongMomentShape:
            _ = try Self.edited(good, to: bad) { tensors, _ in tensors["optimizer.m.head.projection.weight"] = Tensor.zeros([3]) }
        case .missingParameter:
            _ = try Self.edited(good, to: bad) { tensors, _ in tensors["model.head.norm.bias"] = nil }
        case .unknownEntry:
            _ = try Self.edited(good, to: bad) { tensors, _ in tensors["extra.thing"] = Tensor.zeros([2]) }
        case .otherModel:
            // A checkpoint of a model with another configuration (2 layers).
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("other"), steps: 10)
            c.model.layers = 2
            let other = try LanguageModelTrainer(configuration: c, corpus: corpus)
            try other.run(stopAfter: 1) { _ in }
            try FileManager.default.copyItem(at: other.checkpointURL, to: bad)
        case .otherTask:
            _ = try Self.edited(good, to: bad) { _, metadata in
                metadata["glance.training_state"] = metadata["glance.training_state"]!.replacingOccurrences(of: #""task":"language-model""#, with: #""task":"classification""#)
            }
        case .unknownFormat:
            _ = try Self.edited(good, to: bad) { _, metadata in metadata["format"] = "glance-checkpoint-9" }
        case .noTrainingState:
            _ = try Self.edited(good, to: bad) { _, metadata in metadata["glance.training_state"] = nil }
        case .truncated:
            let data = try Data(contentsOf: good)
            try data.prefix(data.count - 100).write(to: bad)
        case .empty:
            try Data().write(to: bad)
        case .notSafetensors:
            try Data("this is not a checkpoint at all, just some text".utf8).write(to: bad)
        case .missing:
            break
        case .zeroGenerator:
            try Self.editedState(good, to: bad) { $0["sampler"] = ["state": [0, 0, 0, 0]] }
        case .shortGenerator:
            try Self.editedState(good, to: bad) { $0["dropoutGenerator"] = ["state": [1, 2]] }
        case .negativeStep:
            try Self.editedState(good, to: bad) { $0["step"] = -1 }
        case .stepBeyondSteps:
            try Self.editedState(good, to: bad) { $0["step"] = 11 }
        case .negativeOptimizerStep:
            try Self.editedState(good, to: bad) { $0["optimizerStep"] = -1 }
        case .nonFiniteParameter:
            _ = try Self.edited(good, to: bad) { tensors, _ in tensors["model.head.projection.weight"] = Tensor.full(tensors["model.head.projection.weight"]!.shape, .nan) }
        case .nonFiniteMoment:
            _ = try Self.edited(good, to: bad) { tensors, _ in
                tensors["optimizer.m.head.projection.weight"] = Tensor.full(tensors["optimizer.m.head.projection.weight"]!.shape, .infinity)
            }
        }
        let trainer = try Self.trainerWithState(folder, corpus: corpus)
        let before = bits(trainer.model.parameterValues())
        let generatorBefore = trainer.model._randomSource.generator
        do {
            try trainer.resume(from: bad)
            Issue.record("\(kind): resuming from a bad checkpoint did not throw")
        } catch {
            // The message names the file.
            #expect("\(error)".contains(bad.path), "\(kind): \(error)")
            switch kind {
            case .truncated, .empty, .notSafetensors: #expect(error is SafeTensorsError, "\(kind): \(type(of: error))")
            default: #expect(error is CheckpointError, "\(kind): \(type(of: error))")
            }
        }
        #expect(trainer.step == 2)
        #expect(bits(trainer.model.parameterValues()) == before)
        #expect(trainer.model._randomSource.generator == generatorBefore)
        // The trainer still trains, exactly like an untouched twin.
        let twin = try Self.trainerWithState(folder, corpus: corpus, name: "twin")
        #expect(try trainer.trainStep() == (try twin.trainStep()))
        #expect(bits(trainer.model.parameterValues()) == bits(twin.model.parameterValues()))
    }

    @Test("a checkpoint is never written with non-finite parameters: the last good one stays")
    func nonFiniteParametersAreNotSaved() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let trainer = try Self.trainerWithState(folder, corpus: corpus)
        try FileManager.default.createDirectory(at: trainer.output, withIntermediateDirectories: true)
        try trainer.saveCheckpoint()
        let saved = try Data(contentsOf: trainer.checkpointURL)
        var parameters = trainer.model.parameterValues()
        parameters["head.projection.bias"] = Tensor.full(parameters["head.projection.bias"]!.shape, .nan)
        try trainer.model.update(parameters: parameters)
        #expect(throws: NonFiniteParameterError.self) { try trainer.saveCheckpoint() }
        #expect(try Data(contentsOf: trainer.checkpointURL) == saved)
    }

    @Test("a checkpoint of the previous format (glance-checkpoint-1) resumes exactly")
    func formatOne() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let good = try Self.goodCheckpoint(folder, corpus: corpus)
        let old = try Self.edited(good, to: folder.appendingPathComponent("old.safetensors")) { _, metadata in
            let state = try! JSONSerialization.jsonObject(with: Data(metadata["glance.training_state"]!.utf8)) as! [String: Any]
            let oldState: [String: Any] = ["step": state["step"]!, "dataGenerator": state["sampler"]!, "dropoutGenerator": state["dropoutGenerator"]!,
                                           "optimizerStep": state["optimizerStep"]!, "configuration": state["configuration"]!]
            metadata["glance.training_state"] = String(decoding: try! JSONSerialization.data(withJSONObject: oldState), as: UTF8.self)
            metadata["format"] = "glance-checkpoint-1"
        }
        let configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("good"), steps: 10)
        let current = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try current.resume(from: good)
        let resumed = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try resumed.resume(from: old)
        #expect(resumed.step == 3)
        for _ in 0..<3 { #expect(try resumed.trainStep().bitPattern == (try current.trainStep()).bitPattern) }
        #expect(bits(resumed.model.parameterValues()) == bits(current.model.parameterValues()))
    }

    @Test("a non-finite loss stops training and keeps the last good checkpoint")
    func nonFiniteLoss() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        var configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 50, learningRate: 1e30)
        configuration.training.warmupSteps = 0
        configuration.training.checkpointEvery = 1
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        let recorder = Recorder()
        var caught: NonFiniteLossError? = nil
        do { try trainer.run(report: recorder.report) } catch let error as NonFiniteLossError { caught = error }
        let error = try #require(caught, "training with a learning rate of 1e30 did not stop")
        #expect(!error.loss.isFinite)
        #expect(error.step == trainer.step + 1)
        #expect(error.step < 50)
        let last = try #require(recorder.checkpoints.last)
        #expect(last.step == trainer.step)
        #expect(error.checkpoint == trainer.checkpointURL.path)
        #expect(error.description.contains("step \(error.step)") && error.description.contains(trainer.checkpointURL.path))
        // The checkpoint on disk is the one written after the last good step, untouched.
        #expect(try Data(contentsOf: trainer.checkpointURL) == last.bytes)
        // Besides it only the run's metrics: no temporary checkpoint left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: trainer.checkpointURL.deletingLastPathComponent().path).sorted()
                == ["checkpoint.safetensors", TrainingMetricsLog.fileName])
    }

    @Test("a non-finite loss before any checkpoint says so")
    func nonFiniteLossWithoutCheckpoint() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        var configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 50, learningRate: 1e30)
        configuration.training.warmupSteps = 0
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        #expect {
            try trainer.run { _ in }
        } throws: { error in
            guard let error = error as? NonFiniteLossError else { return false }
            return error.checkpoint == nil && error.description.contains("no checkpoint")
        }
        #expect(!FileManager.default.fileExists(atPath: trainer.checkpointURL.path))
    }

    @Test("a corpus too small for one window is rejected naming the split")
    func corpusTooSmall() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        try Data(try englishText(bytes: 1000)).write(to: folder.appendingPathComponent("train.txt"))
        try Data("too short".utf8).write(to: folder.appendingPathComponent("valid.txt"))
        try Data("x".utf8).write(to: folder.appendingPathComponent("test.txt"))
        let corpus = try ByteCorpus(folder: folder)
        let configuration = try tinyTraining(corpus: folder, output: folder.appendingPathComponent("run"), steps: 5)
        #expect(throws: CorpusError.tooSmall(path: corpus.path(of: .valid), bytes: 9, needed: 18)) {
            _ = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        }
    }

    @Test("evaluation does not disturb training: same losses with or without it")
    func evaluationIsSideEffectFree() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        let configuration = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 10, dropout: 0.1)
        let a = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        let b = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        for _ in 0..<3 {
            let x = try a.trainStep()
            _ = b.evaluate(.valid)
            _ = b.evaluate(.test)
            #expect(try b.trainStep() == x)
        }
        #expect(a.model.isTraining && b.model.isTraining)
    }
}
