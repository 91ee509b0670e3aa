import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

/// A linear regression whose step hooks record what they saw.
final class HookedRegression: Module, TrainingStepHooks {
    let linear: Linear
    var _before: [(step: Int, weight: [Float])] = []
    var _after: [(step: Int, weight: [Float])] = []

    init(seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        linear = Linear(2, 1, generator: &generator)
        super.init()
    }

    func beforeStep(_ step: Int) { _before.append((step, linear.weight.value.scalars)) }
    func afterStep(_ step: Int) { _after.append((step, linear.weight.value.scalars)) }
}

/// Rows of a regression problem: inputs [rows, 2] and targets [rows, 1].
struct RegressionBatch: SplittableBatch {
    let inputs: Tensor, targets: Tensor
    var exampleCount: Int { inputs.shape[0] }

    func split(size: Int) -> [RegressionBatch] {
        stride(from: 0, to: exampleCount, by: size).map { start in
            let rows = start..<Swift.min(start + size, exampleCount)
            return RegressionBatch(inputs: inputs.sliced(alongAxis: 0, rows), targets: targets.sliced(alongAxis: 0, rows))
        }
    }
}

/// A task that carries a counter tensor from step to step (as Transformer-XL carries its
/// memory): each loss call adds 1 to it.
final class CountingTask: TrainingTask {
    static let name = "counting"
    static let exampleName = "rows"
    let model: HookedRegression
    let modelConfiguration = "regression"
    let randomSource = RandomSource(seed: 0)
    var samplerState = RandomGenerator(seed: 9)

    init(seed: UInt64 = 3) { model = HookedRegression(seed: seed) }

    func tokens(batchSize: Int) -> Int { batchSize }

    func nextBatch(size: Int) -> RegressionBatch {
        let inputs = Tensor.randomNormal(shape: [size, 2], mean: 0, standardDeviation: 1, generator: &samplerState)
        return RegressionBatch(inputs: inputs, targets: inputs.sum(alongAxis: 1, keepingDimensions: true))
    }

    func loss(_ batch: RegressionBatch, carried: inout [String: Tensor]) -> Tensor {
        carried["count"] = (carried["count"] ?? Tensor([0])) + Tensor([1])
        return meanSquaredError(predictions: model.linear(batch.inputs), targets: batch.targets)
    }

    func validationMetrics() -> [Metric] { [Metric("loss", 0)] }
    func finish(output: URL) throws -> [Metric] { [] }
}

@Suite struct TrainerTests {
    @Test("accumulation: 2 micro-batches of 8 give the update of one batch of 16, to float rounding")
    func accumulation() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        func trainer(_ accumulation: Int) throws -> LanguageModelTrainer {
            var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run\(accumulation)"), steps: 10)
            (c.training.batchSize, c.training.accumulationSteps, c.training.warmupSteps) = (16, accumulation, 0)
            return try LanguageModelTrainer(configuration: c, corpus: corpus)
        }
        let whole = try trainer(1), accumulated = try trainer(2)
        for step in 1...3 {
            let (a, b) = (try whole.trainStep(), try accumulated.trainStep())
            #expect(Swift.abs(a - b) <= 1e-5 * Swift.abs(a), "step \(step): loss \(a) against \(b)")
        }
        let reference = whole.model.parameterValues(), values = accumulated.model.parameterValues()
        for (key, value) in reference {
            #expect(isClose(values[key]!, value, relativeTolerance: 1e-4, absoluteTolerance: 1e-5), "\(key)")
        }
    }

    @Test("accumulation weighs uneven micro-batches by their size (the end of a classifier's epoch)")
    func unevenMicroBatches() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        // 21 documents in batches of 8: the third batch holds 5, split into 4 + 1.
        let corpus = try ClassificationTaskTests.separableCorpus(in: folder.appendingPathComponent("corpus"), train: 21)
        func trainer(_ accumulation: Int) throws -> ClassifierTrainer {
            var c = try ClassificationTaskTests.configuration(corpus: folder.appendingPathComponent("corpus"),
                                                              output: folder.appendingPathComponent("run\(accumulation)"), steps: 10)
            c.training.accumulationSteps = accumulation
            return try ClassifierTrainer(configuration: c, corpus: corpus)
        }
        let whole = try trainer(1), accumulated = try trainer(2)
        for step in 1...4 {
            let (a, b) = (try whole.trainStep(), try accumulated.trainStep())
            #expect(Swift.abs(a - b) <= 1e-5 * Swift.abs(a), "step \(step): loss \(a) against \(b)")
        }
    }

    @Test("carried state survives a checkpoint and resume, one set per micro-batch")
    func carriedState() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        var settings = tinyOptimization(steps: 6)
        (settings.checkpointEvery, settings.accumulationSteps) = (2, 2)
        let first = Trainer(task: CountingTask(), settings: settings, output: folder)
        try first.run(stopAfter: 3) { _ in }
        #expect(first.carried.map { $0["count"]?.scalars } == [[3], [3]])
        let (tensors, _) = try SafeTensors.read(from: first.checkpointURL)
        #expect(tensors["carried.0.count"]?.scalars == [3] && tensors["carried.1.count"]?.scalars == [3])

        let resumed = Trainer(task: CountingTask(), settings: settings, output: folder)
        try resumed.resume()
        #expect(resumed.step == 3 && resumed.carried.map { $0["count"]?.scalars } == [[3], [3]])
        try resumed.run { _ in }
        #expect(resumed.carried.map { $0["count"]?.scalars } == [[6], [6]])
        let straight = Trainer(task: CountingTask(), settings: settings, output: folder.appendingPathComponent("straight"))
        try straight.run { _ in }
        #expect(bits(straight.model.parameterValues()) == bits(resumed.model.parameterValues()))
    }

    @Test("step hooks run before the gradients and after the update of every step")
    func hooks() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let trainer = Trainer(task: CountingTask(), settings: tinyOptimization(steps: 4), output: folder)
        try trainer.run { _ in }
        let model = trainer.model
        #expect(model._before.map(\.step) == [0, 1, 2, 3] && model._after.map(\.step) == [0, 1, 2, 3])
        for (before, after) in zip(model._before, model._after) { #expect(before.weight != after.weight, "step \(before.step)") }
        for (after, next) in zip(model._after, model._before.dropFirst()) { #expect(after.weight == next.weight) }
    }

    @Test("Performer redraws its features through the trainer's hook")
    func performerRedraw() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try englishCorpus(in: folder.appendingPathComponent("corpus"))
        var c = try tinyTraining(corpus: corpus.folder, output: folder.appendingPathComponent("run"), steps: 10)
        c.model = try tinyModel(#""attention": {"type": "performer", "redraw_every": 2}"#)
        let trainer = try LanguageModelTrainer(configuration: c, corpus: corpus)
        let performer = try #require(trainer.model.blocks[0].attention as? Performer)
        for _ in 0..<5 { try trainer.trainStep() }
        #expect(performer.drawIndex == 2, "the fifth step (step 4) uses draw ⌊4 / 2⌋")
    }

    @Test("accumulation_steps must be at least 1 and divide batch_size", arguments: [(0, "at least 1"), (3, "must divide batch_size (8)")])
    func accumulationValidation(_ steps: Int, _ reason: String) {
        var settings = tinyOptimization(steps: 2)
        settings.accumulationSteps = steps
        #expect {
            try settings.validate()
        } throws: { error in
            (error as? ConfigurationValueError).map { $0.field == "training.accumulation_steps" && $0.reason.contains(reason) } == true
        }
    }
}
