import Foundation
import GlanceCore
import GlanceNN

/// Trains the model of a ``TrainingTask`` with AdamW, warm-up + cosine decay, global-norm
/// clipping and gradient accumulation, reporting progress, validating every `eval_every`
/// steps and writing resumable checkpoints (see ``saveCheckpoint()``).
///
/// Before each step the trainer calls ``GlanceNN/TrainingStepHooks/beforeStep(_:)`` on every
/// module of the model that has step hooks, and ``GlanceNN/TrainingStepHooks/afterStep(_:)``
/// after the update. A non-finite loss stops the run before the update, so the last
/// checkpoint stays the last good one.
///
/// Several processes can train one model together (``join(_:)``): each takes a contiguous
/// share of every batch, the gradients are summed over the processes before clipping and the
/// step, and only rank 0 reports, validates and writes checkpoints.
public final class Trainer<Task: TrainingTask> {
    public let task: Task
    public let settings: OptimizationConfiguration
    /// The run folder.
    public let output: URL
    let optimizer: AdamW
    let schedule: WarmupCosineSchedule
    /// Tensors carried from one step to the next, one set per micro-batch (saved with checkpoints).
    public internal(set) var carried: [[String: Tensor]]
    /// Steps completed so far.
    public internal(set) var step = 0
    /// The processes training this model together (one, unless ``join(_:)`` was called).
    public internal(set) var group: any ProcessGroup = SingleProcess()
    /// Seconds spent summing gradients over the group in this invocation's steps.
    var communicationSeconds = 0.0

    public static var checkpointName: String { "checkpoint.safetensors" }
    public var checkpointURL: URL { output.appendingPathComponent(Self.checkpointName) }
    public var model: Task.Model { task.model }

    public init(task: Task, settings: OptimizationConfiguration, output: URL) {
        self.task = task
        self.settings = settings
        self.output = output
        optimizer = AdamW(learningRate: settings.learningRate, beta1: settings.beta1, beta2: settings.beta2,
                          epsilon: settings.epsilon, weightDecay: settings.weightDecay)
        optimizer.decays = { _, parameter in parameter.value.rank >= 2 }
        schedule = WarmupCosineSchedule(peak: settings.learningRate, warmupSteps: settings.warmupSteps, totalSteps: settings.steps,
                                        minimumRatio: settings.minimumLearningRateRatio)
        carried = Array(repeating: [:], count: settings.accumulationSteps)
    }

    /// One optimization step on the next batch; returns the batch loss. In a group, this
    /// process computes the loss and gradients of its share of the batch, and every process
    /// steps with their sums.
    @discardableResult
    public func trainStep() throws -> Float {
        let batch = task.nextBatch(size: settings.batchSize)
        model.train()
        let hooks = model.trainingStepHooks()
        for hook in hooks { hook.beforeStep(step) }
        var (loss, gradients) = try withDropoutStreamOfThisRank { lossAndGradients(share(of: batch), of: batch.exampleCount) }
        if group.size > 1 { try sumOverGroup(loss: &loss, gradients: &gradients) }
        guard loss.isFinite else {
            let saved = FileManager.default.fileExists(atPath: checkpointURL.path) ? checkpointURL.path : nil
            throw NonFiniteLossError(step: step + 1, loss: loss, checkpoint: saved)
        }
        if settings.gradientClip > 0 { clipGlobalNorm(&gradients, maximumNorm: settings.gradientClip) }
        optimizer.learningRate = schedule.learningRate(at: step)
        optimizer.update(model: model, gradients: gradients)
        for hook in hooks { hook.afterStep(step) }
        step += 1
        return loss
    }

    /// The loss and gradients of this process's share of a batch of `examples`: with
    /// accumulation, the sum over its micro-batches of their losses and gradients, each weighted
    /// by its share of the whole batch's examples; none for no share (a short last batch).
    /// Micro-batches are numbered across the group (rank r's are r·accumulation_steps, …),
    /// which keys their carried tensors.
    func lossAndGradients(_ share: Task.Batch?, of examples: Int) -> (loss: Float, gradients: [String: Tensor]) {
        guard let share else { return (0, [:]) }
        let parts = share.split(size: settings.batchSize / (settings.accumulationSteps * group.size))
        let first = group.rank * settings.accumulationSteps
        if first + parts.count > carried.count { carried += Array(repeating: [:], count: first + parts.count - carried.count) }
        guard parts.count > 1 || group.size > 1 else {
            let (loss, gradients) = valueAndGradient(model: model) { _ in task.loss(share, carried: &carried[0]) }
            return (loss.item(), gradients)
        }
        var total: Float = 0
        var sums: [String: Tensor] = [:]
        for (index, part) in parts.enumerated() {
            let weight = Float(part.exampleCount) / Float(examples)
            let (loss, gradients) = valueAndGradient(model: model) { _ in task.loss(part, carried: &carried[first + index]) * weight }
            total += loss.item()
            for (key, gradient) in gradients { sums[key] = sums[key].map { $0 + gradient } ?? gradient }
        }
        return (total, sums)
    }

    /// The task's validation metrics.
    public func validate() -> [Metric] { task.validationMetrics() }

    /// Trains until `steps`, reporting events; validates every `eval_every` steps and at the
    /// end, checkpoints every `checkpoint_every` steps and at the last step taken, and at the
    /// end reports the task's final figures. `stopAfter` ends early (for tests of resuming).
    /// In a group, only rank 0 reports, validates, checkpoints and finishes the run.
    /// Rank 0 also appends the progress and validation events to ``TrainingMetricsLog``.
    public func run(stopAfter: Int? = nil, report deliver: (TrainingEvent) -> Void) throws {
        let metrics = try group.rank == 0 ? TrainingMetricsLog(folder: output, resumingAt: step) : nil
        func report(_ event: TrainingEvent) {
            metrics?.record(event)
            deliver(event)
        }
        let tokensPerStep = Double(task.tokens(batchSize: settings.batchSize))
        let started = Date()
        var windowStart = Date(), windowSteps = 0
        // Step times after the tenth (warm-up excluded), and of all steps for short runs.
        var timedSeconds = 0.0, timedSteps = 0, allSeconds = 0.0, allSteps = 0
        let last = Swift.min(settings.steps, stopAfter ?? settings.steps)
        var validation: [Metric]? = nil
        while step < last {
            let stepStart = Date()
            let loss = try trainStep()
            let elapsed = Date().timeIntervalSince(stepStart)
            (allSeconds, allSteps) = (allSeconds + elapsed, allSteps + 1)
            if step > 10 { (timedSeconds, timedSteps) = (timedSeconds + elapsed, timedSteps + 1) }
            windowSteps += 1
            guard group.rank == 0 else { continue }
            if step % settings.logEvery == 0 || step == last {
                let seconds = Date().timeIntervalSince(windowStart)
                report(.progress(TrainingProgress(step: step, steps: settings.steps, loss: loss, metrics: task.progressMetrics(loss: loss),
                                                  tokensPerSecond: Double(windowSteps) * tokensPerStep / Swift.max(seconds, 1e-9),
                                                  learningRate: optimizer.learningRate,
                                                  secondsLeft: Double(settings.steps - step) * seconds / Double(windowSteps))))
                (windowStart, windowSteps) = (Date(), 0)
            }
            if step % settings.evalEvery == 0 || step == settings.steps {
                validation = validate()
                report(.validation(step: step, metrics: validation!))
                // A validation loss that is not a number ends the run before its checkpoint.
                if let loss = validation?.first(where: { $0.name == "loss" })?.value, !loss.isFinite {
                    let saved = FileManager.default.fileExists(atPath: checkpointURL.path) ? checkpointURL.path : nil
                    throw NonFiniteLossError(step: step, loss: Float(loss), checkpoint: saved)
                }
                windowStart = Date()
            }
            if step % settings.checkpointEvery == 0 || step == last {
                try saveCheckpoint()
                report(.checkpoint(step: step, path: checkpointURL.path))
                windowStart = Date()
            }
        }
        guard step == settings.steps, group.rank == 0 else { return }
        let finalValidation = validation ?? validate()
        let test = try task.finish(output: output)
        if !Task.keepsFinalCheckpoint { try? FileManager.default.removeItem(at: checkpointURL) }
        if timedSteps == 0 { (timedSeconds, timedSteps) = (allSeconds, allSteps) }
        let stepsPerSecond = Double(timedSteps) / Swift.max(timedSeconds, 1e-9)
        report(.finished(TrainingSummary(step: step, validation: finalValidation, test: test,
                                         tokensPerSecond: timedSteps > 0 ? stepsPerSecond * tokensPerStep : 0,
                                         examplesPerSecond: timedSteps > 0 ? stepsPerSecond * Double(settings.batchSize) : 0,
                                         exampleName: Task.exampleName, seconds: Date().timeIntervalSince(started),
                                         processes: group.size, communicationSecondsPerStep: communicationSeconds / Double(Swift.max(allSteps, 1)))))
    }
}
