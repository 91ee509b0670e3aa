import Foundation
import GlanceCore
import GlanceNN

/// What a ``Trainer`` trains: the model, its batches and their loss, the validation metrics
/// and the final report. The trainer owns everything else (optimizer, schedule, clipping,
/// accumulation, progress, checkpoints, resuming).
public protocol TrainingTask: AnyObject {
    associatedtype Model: Module
    associatedtype Batch: SplittableBatch
    associatedtype SamplerState: Codable
    associatedtype ModelConfiguration: Codable & Equatable

    /// Names the task in checkpoints: a checkpoint of another task does not resume.
    static var name: String { get }
    /// What one training example is called in throughput figures ("windows", "documents").
    static var exampleName: String { get }
    /// Whether the run's checkpoint stays once the last step is done (false when ``finish(output:)``
    /// writes the model file that replaces it).
    static var keepsFinalCheckpoint: Bool { get }

    var model: Model { get }
    /// The model's configuration: a checkpoint of a model configured otherwise does not resume.
    var modelConfiguration: ModelConfiguration { get }
    /// The random stream of the model's dropout layers (saved with checkpoints).
    var randomSource: RandomSource { get }
    /// Where the training batches have got to (saved with checkpoints).
    var samplerState: SamplerState { get set }
    /// Tokens one step of `batchSize` examples reads, for tokens per second.
    func tokens(batchSize: Int) -> Int

    /// Why a sampler state read from a checkpoint cannot continue on this task's data, or nil
    /// when it can (the default).
    func samplerMismatch(_ state: SamplerState) -> String?
    /// The next training batch of `size` examples; advances ``samplerState``.
    func nextBatch(size: Int) -> Batch
    /// The loss of a (micro-)batch, auxiliary losses included, recorded for gradients.
    /// `carried` holds the tensors this part of the batch carried out of the previous step
    /// (empty at first); the task replaces them with what the next step needs (detached).
    func loss(_ batch: Batch, carried: inout [String: Tensor]) -> Tensor
    /// Figures shown beside a training batch's loss (the language model's bits per byte).
    func progressMetrics(loss: Float) -> [Metric]
    /// Metrics on the validation data, "loss" first.
    func validationMetrics() -> [Metric]
    /// Ends a finished run: writes what the task leaves in `output` and returns the final
    /// report (test metrics; empty when there are none).
    func finish(output: URL) throws -> [Metric]
}

extension TrainingTask {
    public static var keepsFinalCheckpoint: Bool { true }
    public func progressMetrics(loss: Float) -> [Metric] { [] }
}

/// A batch that a trainer can cut into micro-batches for gradient accumulation.
public protocol SplittableBatch {
    /// Examples (rows) in the batch; a micro-batch's gradient counts by its share of them.
    var exampleCount: Int { get }
    /// Consecutive micro-batches of `size` examples (the last may be smaller).
    func split(size: Int) -> [Self]
}

/// A named figure of a run (validation loss, accuracy, bits per byte, …).
public struct Metric: Sendable, Equatable {
    public let name: String
    public let value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == Metric {
    /// The value of the metric called `name`.
    public subscript(_ name: String) -> Double? { first { $0.name == name }?.value }
}

extension TrainingTask {
    public func samplerMismatch(_ state: SamplerState) -> String? { nil }
}
