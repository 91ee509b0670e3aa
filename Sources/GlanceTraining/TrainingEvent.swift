import Foundation

/// What a training run reports as it goes.
public enum TrainingEvent: Sendable {
    /// After a step, every `log_every` steps and at the last one.
    case progress(TrainingProgress)
    /// Validation metrics after `step`, every `eval_every` steps and at the end.
    case validation(step: Int, metrics: [Metric])
    case checkpoint(step: Int, path: String)
    /// The run reached its last step.
    case finished(TrainingSummary)
}

/// One progress report.
public struct TrainingProgress: Sendable {
    /// Steps done (1-based) and planned.
    public let step: Int, steps: Int
    /// The step's batch loss and the figures the task derives from it.
    public let loss: Float
    public let metrics: [Metric]
    /// Tokens per second since the previous report.
    public let tokensPerSecond: Double
    public let learningRate: Float
    /// Estimated seconds to the last step, at the rate since the previous report.
    public let secondsLeft: Double
}

/// The end of a run.
public struct TrainingSummary: Sendable {
    public let step: Int
    /// The last validation metrics and the task's final report (test metrics).
    public let validation: [Metric], test: [Metric]
    /// Training throughput over the steps after the tenth (all steps for shorter runs), evaluation excluded.
    public let tokensPerSecond: Double, examplesPerSecond: Double
    /// What one example is (the task's ``TrainingTask/exampleName``).
    public let exampleName: String
    /// Wall time of this invocation.
    public let seconds: Double
    /// The processes that trained together, and the seconds per step spent summing their gradients.
    public let processes: Int, communicationSecondsPerStep: Double
}

/// Training stopped because the training or validation loss stopped being a number.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let step: Int
    public let loss: Float
    public let checkpoint: String?
    public var description: String {
        "training stopped at step \(step): the loss is \(loss)" + (checkpoint.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written")
    }
}

/// A parameter holds infinities or NaNs: the checkpoint is not written, so the last one on disk
/// stays the last good one.
public struct NonFiniteParameterError: Error, CustomStringConvertible {
    public let key: String
    public let step: Int
    public var description: String { "parameter '\(key)' is not finite at step \(step); the checkpoint was not written" }
}
