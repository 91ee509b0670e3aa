import Foundation
import GlanceCore
import GlanceAttention
import GlanceData
import GlanceNN

/// What a training run reports as it goes.
public enum TrainingEvent: Sendable {
    /// After `step` (1-based): the batch loss, tokens per second since the last report,
    /// learning rate and estimated seconds left.
    case progress(step: Int, loss: Float, tokensPerSecond: Double, learningRate: Float, secondsLeft: Double)
    case validation(step: Int, loss: Float)
    case checkpoint(step: Int, path: String)
    case finished(step: Int, validationLoss: Float, trainingTokensPerSecond: Double, seconds: Double)
}

/// Training stopped because the loss stopped being a number.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let step: Int
    public let loss: Float
    public let checkpoint: String?
    public var description: String {
        "training stopped at step \(step): the loss is \(loss)" + (checkpoint.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written")
    }
}

/// Trains a ``CharacterLanguageModel`` on a byte corpus with AdamW, warm-up + cosine decay
/// and global-norm clipping, writing resumable checkpoints.
///
/// A checkpoint is one safetensors file holding the parameters, the optimizer moments and
/// (in its metadata) the step, the data and dropout random states and the configuration,
/// written atomically: a resumed run continues exactly as if it had never stopped.
public final class LanguageModelTrainer {
    public let configuration: TrainingConfiguration
    public let model: CharacterLanguageModel
    public let corpus: ByteCorpus
    let optimizer: AdamW
    let schedule: WarmupCosineSchedule
    var dataGenerator: RandomGenerator
    /// Steps completed so far.
    public private(set) var step = 0

    public static let checkpointName = "checkpoint.safetensors"
    public var checkpointURL: URL { URL(fileURLWithPath: configuration.output).appendingPathComponent(Self.checkpointName) }

    public init(configuration: TrainingConfiguration, corpus: ByteCorpus) throws {
        self.configuration = configuration
        self.corpus = corpus
        let context = configuration.model.context
        for split in [ByteCorpus.Split.train, .valid] where corpus.bytes(of: split).count <= context + 1 {
            throw CorpusError.tooSmall(path: corpus.path(of: split), bytes: corpus.bytes(of: split).count, needed: context + 2)
        }
        model = try CharacterLanguageModel(configuration: configuration.model, seed: configuration.training.seed)
        let t = configuration.training
        optimizer = AdamW(learningRate: t.learningRate, beta1: t.beta1, beta2: t.beta2, epsilon: t.epsilon, weightDecay: t.weightDecay)
        optimizer.decays = { _, parameter in parameter.value.rank >= 2 }
        schedule = WarmupCosineSchedule(peak: t.learningRate, warmupSteps: t.warmupSteps, totalSteps: t.steps, minimumRatio: t.minimumLearningRateRatio)
        dataGenerator = RandomGenerator(seed: t.seed &+ 2)
    }

    /// One optimization step on a fresh random batch; returns the batch loss.
    @discardableResult
    public func trainStep() throws -> Float {
        let t = configuration.training
        let batch = WindowSampler.randomBatch(from: corpus.train, batchSize: t.batchSize, length: configuration.model.context, generator: &dataGenerator)
        model.train()
        for (_, module) in model.namedModules() { (module as? FeatureRedrawing)?.redrawFeatures(step: step) }
        let (loss, initialGradients) = valueAndGradient(model: model) { $0.loss(inputs: batch.inputs, targets: batch.targets) }
        let value = loss.item()
        guard value.isFinite else {
            let saved = FileManager.default.fileExists(atPath: checkpointURL.path) ? checkpointURL.path : nil
            throw NonFiniteLossError(step: step + 1, loss: value, checkpoint: saved)
        }
        var grads = initialGradients
        if t.gradientClip > 0 { clipGlobalNorm(&grads, maximumNorm: t.gradientClip) }
        optimizer.learningRate = schedule.learningRate(at: step)
        optimizer.update(model: model, gradients: grads)
        step += 1
        return value
    }

    /// Mean next-byte loss (nats) over the evaluation windows of a split.
    public func evaluate(_ split: ByteCorpus.Split = .valid) -> Float {
        let t = configuration.training
        model.eval()
        defer { model.train() }
        var total: Double = 0, tokens = 0
        withoutGradients {
            for batch in WindowSampler.evaluationBatches(from: corpus.bytes(of: split), windows: t.evalWindows,
                                                         length: configuration.model.context, batchSize: t.batchSize) {
                total += Double(model.loss(inputs: batch.inputs, targets: batch.targets).item()) * Double(batch.targets.count)
                tokens += batch.targets.count
            }
        }
        return Float(total / Double(Swift.max(tokens, 1)))
    }

    /// Trains until `configuration.training.steps`, reporting events; checkpoints every
    /// `checkpoint_every` steps and at the end. `stopAfter` ends early (for tests of resuming).
    public func run(stopAfter: Int? = nil, report: (TrainingEvent) -> Void) throws {
        let t = configuration.training
        let tokensPerStep = Double(t.batchSize * configuration.model.context)
        let started = Date()
        var windowStart = Date(), windowSteps = 0
        var timedSeconds = 0.0, timedSteps = 0
        let last = Swift.min(t.steps, stopAfter ?? t.steps)
        var validation = Float.nan
        while step < last {
            let stepStart = Date()
            let loss = try trainStep()
            let elapsed = Date().timeIntervalSince(stepStart)
            if step > 10 { timedSeconds += elapsed; timedSteps += 1 }
            windowSteps += 1
            if step % t.logEvery == 0 || step == last {
                let seconds = Date().timeIntervalSince(windowStart)
                let rate = Double(windowSteps) * tokensPerStep / Swift.max(seconds, 1e-9)
                report(.progress(step: step, loss: loss, tokensPerSecond: rate, learningRate: optimizer.learningRate,
                                 secondsLeft: Double(t.steps - step) * seconds / Double(windowSteps)))
                windowStart = Date()
                windowSteps = 0
            }
            if step % t.evalEvery == 0 || step == t.steps {
                validation = evaluate(.valid)
                report(.validation(step: step, loss: validation))
                windowStart = Date()
            }
            if step % t.checkpointEvery == 0 || step == last {
                try saveCheckpoint()
                report(.checkpoint(step: step, path: checkpointURL.path))
                windowStart = Date()
            }
        }
        if step == t.steps {
            if validation.isNaN { validation = evaluate(.valid) }
            let rate = timedSteps > 0 ? Double(timedSteps) * tokensPerStep / timedSeconds : 0
            report(.finished(step: step, validationLoss: validation, trainingTokensPerSecond: rate, seconds: Date().timeIntervalSince(started)))
        }
    }

    // MARK: - Checkpoints

    struct SavedState: Codable {
        var step: Int
        var dataGenerator: RandomGenerator
        var dropoutGenerator: RandomGenerator
        var optimizerStep: Int
        var configuration: String
    }

    /// Writes the checkpoint atomically (see the type's documentation).
    public func saveCheckpoint() throws {
        var tensors: [String: Tensor] = [:]
        for (key, value) in model.parameterValues() { tensors["model.\(key)"] = value }
        for (key, value) in optimizer.stateTensors() { tensors["optimizer.\(key)"] = value }
        let state = SavedState(step: step, dataGenerator: dataGenerator, dropoutGenerator: model._randomSource.generator,
                               optimizerStep: optimizer.step, configuration: String(decoding: try JSONEncoder().encode(configuration.model), as: UTF8.self))
        let metadata = ["glance.training_state": String(decoding: try JSONEncoder().encode(state), as: UTF8.self), "format": "glance-checkpoint-1"]
        try SafeTensors.write(tensors, metadata: metadata, to: checkpointURL)
    }

    /// Restores the run from `url` (by default this run's checkpoint). Checks that the
    /// checkpoint belongs to this model before changing anything.
    public func resume(from url: URL? = nil) throws {
        let url = url ?? checkpointURL
        guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.missing(path: url.path) }
        let (tensors, metadata) = try SafeTensors.read(from: url)
        guard let text = metadata["glance.training_state"],
              let state = try? JSONDecoder().decode(SavedState.self, from: Data(text.utf8)) else {
            throw CheckpointError.incompatible(path: url.path, reason: "it has no Glance training state")
        }
        let savedModel = try? JSONDecoder().decode(LanguageModelConfiguration.self, from: Data(state.configuration.utf8))
        guard savedModel == configuration.model else {
            throw CheckpointError.incompatible(path: url.path, reason: "it was trained with another model configuration (\(state.configuration))")
        }
        var parameters: [String: Tensor] = [:], optimizerState: [String: Tensor] = [:]
        for (key, value) in tensors {
            if key.hasPrefix("model.") { parameters[String(key.dropFirst(6))] = value }
            else if key.hasPrefix("optimizer.") { optimizerState[String(key.dropFirst(10))] = value }
            else { throw CheckpointError.incompatible(path: url.path, reason: "unexpected entry '\(key)'") }
        }
        // Optimizer moments ("m.<parameter key>") must fit the parameters: a wrong shape would
        // be written out of bounds by the next update.
        let shapes = Dictionary(uniqueKeysWithValues: model.trainableParameters().map { ($0.key, $0.parameter.shape) })
        for (key, value) in optimizerState {
            guard let dot = key.firstIndex(of: "."), shapes[String(key[key.index(after: dot)...])] == value.shape else {
                throw CheckpointError.incompatible(path: url.path, reason: "optimizer entry '\(key)' of shape \(value.shape) fits no parameter of this model")
            }
        }
        let previous = model.parameterValues()
        do {
            try model.update(parameters: parameters)
            try optimizer.restore(state: optimizerState, step: state.optimizerStep)
        } catch {
            try? model.update(parameters: previous)
            throw CheckpointError.incompatible(path: url.path, reason: "\(error)")
        }
        step = state.step
        dataGenerator = state.dataGenerator
        model._randomSource.generator = state.dropoutGenerator
    }
}
