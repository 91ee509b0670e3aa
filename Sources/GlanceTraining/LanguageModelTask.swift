import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// Next-byte prediction with a ``GlanceModels/CharacterLanguageModel`` on a byte corpus:
/// training windows at random offsets of train.txt, validation on the first `eval_windows`
/// windows of valid.txt (loss and bits per byte).
///
/// A model with a memory (Transformer-XL's `mem_len`, Adaptive Span's `cache`) trains instead on ``SegmentStreams``
/// of train.txt (one stream per batch row, the next segment of each at every step, starting
/// over at the end) and carries each layer's memory from step to step (`carried` keys
/// `memory.<layer>`); it is evaluated on a split read as one stream of segments with memory
/// (validation: its first `eval_windows` × context bytes, as many predictions as the windows).
public final class LanguageModelTask: TrainingTask {
    public static let name = "language-model"
    public static let exampleName = "windows"

    public let configuration: TrainingConfiguration
    public let corpus: ByteCorpus
    public let model: CharacterLanguageModel
    /// The generator of the training windows' offsets and the streams' next segment.
    public var samplerState: LanguageModelSampler

    public var modelConfiguration: LanguageModelConfiguration { configuration.model }
    public var randomSource: RandomSource { model._randomSource }

    public init(configuration: TrainingConfiguration, corpus: ByteCorpus) throws {
        let context = configuration.model.context
        for split in [ByteCorpus.Split.train, .valid] where corpus.bytes(of: split).count <= context + 1 {
            throw CorpusError.tooSmall(path: corpus.path(of: split), bytes: corpus.bytes(of: split).count, needed: context + 2)
        }
        try corpus.requireBytes(below: configuration.model.vocabularySize)
        let batchSize = configuration.training.batchSize
        if configuration.model.memoryLength > 0, SegmentStreams(byteCount: corpus.train.count, streams: batchSize, length: context) == nil {
            throw CorpusError.tooSmall(path: corpus.path(of: .train), bytes: corpus.train.count, needed: batchSize * (context + 1))
        }
        self.configuration = configuration
        self.corpus = corpus
        model = try CharacterLanguageModel(configuration: configuration.model, seed: configuration.training.seed)
        samplerState = LanguageModelSampler(seed: configuration.training.seed &+ 2)
    }

    public func tokens(batchSize: Int) -> Int { batchSize * configuration.model.context }

    public func nextBatch(size: Int) -> TokenBatch {
        let context = configuration.model.context
        guard model.memoryLength > 0 else {
            return WindowSampler.randomBatch(from: corpus.train, batchSize: size, length: context, generator: &samplerState.generator)
        }
        guard let streams = SegmentStreams(byteCount: corpus.train.count, streams: size, length: context) else {
            preconditionFailure("train.txt of \(corpus.train.count) bytes is too short for \(size) streams of \(context)-byte segments")
        }
        defer { samplerState.segment += 1 }
        return streams.batch(from: corpus.train, segment: samplerState.segment)
    }

    public func loss(_ batch: TokenBatch, carried: inout [String: Tensor]) -> Tensor {
        guard model.memoryLength > 0 else { return model.loss(inputs: batch.inputs, targets: batch.targets) }
        let keys = model.blocks.indices.map { "memory.\($0)" }
        let result = model.loss(inputs: batch.inputs, targets: batch.targets, memories: keys.compactMap { carried[$0] })
        for (key, memory) in zip(keys, result.memories) { carried[key] = memory }
        return result.loss
    }

    public func progressMetrics(loss: Float) -> [Metric] { [Metric("bpc", Double(loss / Float(M_LN2)))] }

    public func validationMetrics() -> [Metric] {
        let loss = evaluate(.valid, streamedBytes: configuration.training.evalWindows * configuration.model.context + 1)
        return [Metric("loss", Double(loss)), Metric("bpc", Double(loss / Float(M_LN2)))]
            + model.blocks.spanMetrics.map { Metric($0.name, Double($0.value)) }
    }

    /// Mean next-byte loss (nats) over the evaluation windows of a split, or with a memory over
    /// its first `streamedBytes` bytes (nil: all of it), read as one stream of segments.
    public func evaluate(_ split: ByteCorpus.Split, streamedBytes: Int? = nil) -> Float {
        let t = configuration.training, bytes = corpus.bytes(of: split), context = configuration.model.context
        if model.memoryLength > 0 {
            let text = streamedBytes.map { Array(bytes.prefix(Swift.max(2, $0))) } ?? bytes
            return Float(model.streamedScore(of: text, segment: context).loss)
        }
        model.eval()
        defer { model.train() }
        var total: Double = 0, tokens = 0
        func add(_ loss: Tensor, _ batch: TokenBatch) {
            total += Double(loss.item()) * Double(batch.targets.count)
            tokens += batch.targets.count
        }
        withoutGradients {
            for batch in WindowSampler.evaluationBatches(from: bytes, windows: t.evalWindows, length: context, batchSize: t.batchSize) {
                add(model.loss(inputs: batch.inputs, targets: batch.targets), batch)
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

    /// Mean next-byte loss (nats) over the evaluation windows of a split (a model with a memory:
    /// over its first `streamedBytes` bytes, nil: all, streamed).
    public func evaluate(_ split: ByteCorpus.Split = .valid, streamedBytes: Int? = nil) -> Float { task.evaluate(split, streamedBytes: streamedBytes) }
}
