import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// Next-byte prediction with a ``GlanceModels/CharacterLanguageModel`` on a byte corpus:
/// training windows at random offsets of train.txt, validation on the first `eval_windows`
/// windows of valid.txt (loss and bits per byte).
public final class LanguageModelTask: TrainingTask {
    public static let name = "language-model"
    public static let exampleName = "windows"

    public let configuration: TrainingConfiguration
    public let corpus: ByteCorpus
    public let model: CharacterLanguageModel
    /// The generator of the training windows' offsets.
    public var samplerState: RandomGenerator

    public var modelConfiguration: LanguageModelConfiguration { configuration.model }
    public var randomSource: RandomSource { model._randomSource }

    public init(configuration: TrainingConfiguration, corpus: ByteCorpus) throws {
        let context = configuration.model.context
        for split in [ByteCorpus.Split.train, .valid] where corpus.bytes(of: split).count <= context + 1 {
            throw CorpusError.tooSmall(path: corpus.path(of: split), bytes: corpus.bytes(of: split).count, needed: context + 2)
        }
        try corpus.requireBytes(below: configuration.model.vocabularySize)
        self.configuration = configuration
        self.corpus = corpus
        model = try CharacterLanguageModel(configuration: configuration.model, seed: configuration.training.seed)
        samplerState = RandomGenerator(seed: configuration.training.seed &+ 2)
    }

    public func tokens(batchSize: Int) -> Int { batchSize * configuration.model.context }

    public func nextBatch(size: Int) -> TokenBatch {
        WindowSampler.randomBatch(from: corpus.train, batchSize: size, length: configuration.model.context, generator: &samplerState)
    }

    public func loss(_ batch: TokenBatch, carried: inout [String: Tensor]) -> Tensor {
        model.loss(inputs: batch.inputs, targets: batch.targets)
    }

    public func progressMetrics(loss: Float) -> [Metric] { [Metric("bpc", Double(loss / Float(M_LN2)))] }

    public func validationMetrics() -> [Metric] {
        let loss = evaluate(.valid)
        return [Metric("loss", Double(loss)), Metric("bpc", Double(loss / Float(M_LN2)))]
    }

    /// Mean next-byte loss (nats) over the evaluation windows of a split.
    public func evaluate(_ split: ByteCorpus.Split) -> Float {
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

    /// The checkpoint is the run's model (`glance eval` and `generate` read it); no test report.
    public func finish(output: URL) throws -> [Metric] { [] }
}

extension TokenBatch: SplittableBatch {
    public var exampleCount: Int { inputs.shape[0] }

    public func split(size: Int) -> [TokenBatch] {
        let length = inputs.shape[1]
        return stride(from: 0, to: exampleCount, by: size).map { start in
            let rows = (start * length)..<(Swift.min(start + size, exampleCount) * length)
            return TokenBatch(inputs: IndexTensor(Array(inputs.values[rows]), shape: [rows.count / length, length]), targets: Array(targets[rows]))
        }
    }
}

/// The language model's trainer.
public typealias LanguageModelTrainer = Trainer<LanguageModelTask>

extension Trainer where Task == LanguageModelTask {
    /// A trainer of the language model of `configuration` on `corpus`.
    public convenience init(configuration: TrainingConfiguration, corpus: ByteCorpus) throws {
        self.init(task: try LanguageModelTask(configuration: configuration, corpus: corpus), settings: configuration.training,
                  output: URL(fileURLWithPath: configuration.output))
    }

    /// Mean next-byte loss (nats) over the evaluation windows of a split.
    public func evaluate(_ split: ByteCorpus.Split = .valid) -> Float { task.evaluate(split) }
}
