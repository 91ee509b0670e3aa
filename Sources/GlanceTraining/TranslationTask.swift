import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// Sentence pairs as subword ids (no markers): what one step of translation training reads.
public struct TranslationBatch: SplittableBatch, Sendable {
    public var sources: [[Int]]
    public var targets: [[Int]]

    public var exampleCount: Int { sources.count }

    public func split(size: Int) -> [TranslationBatch] {
        stride(from: 0, to: sources.count, by: size).map { start in
            let rows = start..<Swift.min(start + size, sources.count)
            return TranslationBatch(sources: Array(sources[rows]), targets: Array(targets[rows]))
        }
    }
}

/// Where translation training has got to: the epoch and the next batch of its (seeded) order.
public struct TranslationSampler: Codable, Sendable, Equatable {
    public var epoch = 0
    public var batch = 0

    public init(epoch: Int = 0, batch: Int = 0) { (self.epoch, self.batch) = (epoch, batch) }

    /// Decodes a saved sampler: epoch and batch must be in 0..<2^62.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        for key in [CodingKeys.epoch, .batch] {
            let value = try container.decode(Int.self, forKey: key)
            guard (0..<(1 << 62)).contains(value) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "must be in 0..<2^62, got \(value)")
            }
        }
        self.init(epoch: try container.decode(Int.self, forKey: .epoch), batch: try container.decode(Int.self, forKey: .batch))
    }
}

/// Translation with an ``GlanceModels/EncoderDecoderModel`` on a bitext, trained by teacher
/// forcing with fairseq's label-smoothed cross-entropy.
///
/// The joint byte-pair encoding is learned from the training source and target text the first
/// time (vocab_size − 259 merges) and kept as OUTPUT/bpe.json, which later runs, resumes,
/// `glance translate` and `glance eval` read. Training pairs with a side longer than
/// max_length − 1 subwords are left out (``droppedPairs``). Batches hold `batch_size` pairs of
/// similar length: the pairs are sorted by (source, target) length, cut into batches, and
/// every epoch visits the batches in a new seeded order. Validation reports the smoothed loss,
/// the negative log-likelihood per target token and, on the first `eval_sentences` validation
/// pairs, BLEU and chrF of beam search; the final report gives test BLEU and chrF.
public final class TranslationTask: TrainingTask {
    public static let name = "translation"
    public static let exampleName = "pairs"

    public let configuration: TranslationRunConfiguration
    public let model: EncoderDecoderModel
    public let encoding: BytePairEncoding
    public let train: Bitext
    public let valid: Bitext
    /// Encoded training pairs that fit the model.
    public let trainPairs: TranslationBatch
    /// Training pairs left out because a side has more than max_length − 1 subwords.
    public let droppedPairs: Int
    /// Batches of indices into ``trainPairs``, shortest first.
    let batches: [[Int]]
    public var samplerState = TranslationSampler()

    public var modelConfiguration: TranslationConfiguration { configuration.model }
    public var randomSource: RandomSource { model._randomSource }

    public init(configuration: TranslationRunConfiguration) throws {
        self.configuration = configuration
        let data = configuration.data, folder = URL(fileURLWithPath: data.bitext)
        train = try Bitext(folder: folder, split: .train, source: data.source, target: data.target)
        valid = try Bitext(folder: folder, split: .valid, source: data.source, target: data.target)
        encoding = try Self.encoding(for: configuration, train: train)
        model = try EncoderDecoderModel(configuration: configuration.model, seed: configuration.training.seed)
        let limit = configuration.model.maximumLength - 1
        let sources = encoding.encode(train.source), targets = encoding.encode(train.target)
        let kept = Self.fitting(sources, targets, limit: limit)
        droppedPairs = sources.count - kept.count
        guard !kept.isEmpty else {
            throw BitextError(path: folder.appendingPathComponent("train.\(data.source)").path, line: nil,
                              reason: "has no pair whose sides fit max_length − 1 = \(limit) subword tokens")
        }
        trainPairs = TranslationBatch(sources: kept.map { sources[$0] }, targets: kept.map { targets[$0] })
        batches = Self.lengthBatches(trainPairs, size: configuration.training.batchSize, seed: configuration.training.seed)
    }

    /// The indices of the pairs whose source has 1…`limit` subwords and whose target at most `limit`.
    static func fitting(_ sources: [[Int]], _ targets: [[Int]], limit: Int) -> [Int] {
        sources.indices.filter { !sources[$0].isEmpty && sources[$0].count <= limit && targets[$0].count <= limit }
    }

    /// OUTPUT/bpe.json when it exists, else the encoding learned from the training text and saved there.
    static func encoding(for configuration: TranslationRunConfiguration, train: Bitext) throws -> BytePairEncoding {
        let output = URL(fileURLWithPath: configuration.output), url = output.appendingPathComponent(BytePairEncoding.fileName)
        if FileManager.default.fileExists(atPath: url.path) {
            let encoding = try BytePairEncoding(contentsOf: url)
            guard encoding.vocabularySize <= configuration.model.vocabularySize else {
                throw BytePairEncodingError(path: url.path, reason: "has \(encoding.vocabularySize) ids, more than model.vocab_size \(configuration.model.vocabularySize)")
            }
            return encoding
        }
        let encoding = BytePairEncoding.learn(from: train.source + train.target, vocabularySize: configuration.model.vocabularySize)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try encoding.save(to: url)
        return encoding
    }

    /// Pairs sorted by (source length, target length, seeded tie-break), cut into batches of `size`.
    static func lengthBatches(_ pairs: TranslationBatch, size: Int, seed: UInt64) -> [[Int]] {
        var generator = RandomGenerator(seed: seed &+ 3)
        let tieBreak = pairs.sources.indices.map { _ in generator.nextUniform() }
        let order = pairs.sources.indices.sorted {
            (pairs.sources[$0].count, pairs.targets[$0].count, tieBreak[$0]) < (pairs.sources[$1].count, pairs.targets[$1].count, tieBreak[$1])
        }
        return stride(from: 0, to: order.count, by: size).map { Array(order[$0..<Swift.min($0 + size, order.count)]) }
    }

    /// The batch order of an epoch: a seeded shuffle.
    func batchOrder(epoch: Int) -> [Int] {
        var generator = RandomGenerator(seed: configuration.training.seed &+ 4 &+ UInt64(epoch))
        var order = Array(batches.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        return order
    }

    /// Source and target subwords per pair, on average, times `batchSize`.
    public func tokens(batchSize: Int) -> Int {
        let total = trainPairs.sources.reduce(0) { $0 + $1.count } + trainPairs.targets.reduce(0) { $0 + $1.count }
        return batchSize * total / Swift.max(trainPairs.sources.count, 1)
    }

    /// The next batch of the epoch's order (`size` is the configured batch size the batches were cut with).
    public func nextBatch(size: Int) -> TranslationBatch {
        if samplerState.batch >= batches.count { samplerState = TranslationSampler(epoch: samplerState.epoch + 1, batch: 0) }
        let rows = batches[batchOrder(epoch: samplerState.epoch)[samplerState.batch]]
        samplerState.batch += 1
        return TranslationBatch(sources: rows.map { trainPairs.sources[$0] }, targets: rows.map { trainPairs.targets[$0] })
    }

    public func loss(_ batch: TranslationBatch, carried: inout [String: Tensor]) -> Tensor {
        model.loss(sources: batch.sources, targets: batch.targets, labelSmoothing: configuration.data.labelSmoothing).loss
    }

    public func validationMetrics() -> [Metric] {
        var metrics = lossMetrics(valid)
        let sample = Swift.min(configuration.data.evaluationSentences, valid.count)
        if sample > 0 {
            let scores = translationScores(Bitext(source: Array(valid.source.prefix(sample)), target: Array(valid.target.prefix(sample))))
            metrics += [Metric("bleu", scores.bleu.score), Metric("chrf", scores.chrF.score)]
        }
        return metrics
    }

    /// Smoothed loss and negative log-likelihood per target token of the pairs that fit, in batches of `batch_size`.
    public func lossMetrics(_ bitext: Bitext) -> [Metric] {
        let sources = encoding.encode(bitext.source), targets = encoding.encode(bitext.target)
        let kept = Self.fitting(sources, targets, limit: configuration.model.maximumLength - 1)
        model.eval()
        defer { model.train() }
        var loss = 0.0, likelihood = 0.0, count = 0
        withoutGradients {
            for start in stride(from: 0, to: kept.count, by: configuration.training.batchSize) {
                let rows = kept[start..<Swift.min(start + configuration.training.batchSize, kept.count)]
                let result = model.loss(sources: rows.map { sources[$0] }, targets: rows.map { targets[$0] },
                                        labelSmoothing: configuration.data.labelSmoothing)
                loss += Double(result.loss.item()) * Double(result.count)
                likelihood += Double(result.negativeLogLikelihood) * Double(result.count)
                count += result.count
            }
        }
        let tokens = Double(Swift.max(count, 1))
        return [Metric("loss", loss / tokens), Metric("nll", likelihood / tokens), Metric("ppl", exp(likelihood / tokens))]
    }

    /// The model's translations of `bitext`'s sources with the configured beam, and their BLEU and chrF against its targets.
    public func translationScores(_ bitext: Bitext, beam: Int? = nil) -> (translations: [String], bleu: BLEU, chrF: ChrF) {
        let translator = Translator(model: model, encoding: encoding,
                                    search: BeamSearch(beamWidth: beam ?? configuration.data.beam, lengthPenalty: configuration.data.lengthPenalty,
                                                       maximumTokens: configuration.model.maximumLength - 1))
        model.eval()
        defer { model.train() }
        let translations = bitext.source.map { (try? translator.translate($0)) ?? "" }
        return (translations, BLEU(hypotheses: translations, references: bitext.target), ChrF(hypotheses: translations, references: bitext.target))
    }

    /// Test BLEU and chrF (the checkpoint is the run's model).
    public func finish(output: URL) throws -> [Metric] {
        let data = configuration.data
        let test = try Bitext(folder: URL(fileURLWithPath: data.bitext), split: .test, source: data.source, target: data.target)
        let scores = translationScores(test)
        return [Metric("bleu", scores.bleu.score), Metric("chrf", scores.chrF.score)]
    }
}

/// The translation trainer.
public typealias TranslationTrainer = Trainer<TranslationTask>

extension Trainer where Task == TranslationTask {
    /// A trainer of the translation model of `configuration`.
    public convenience init(configuration: TranslationRunConfiguration) throws {
        self.init(task: try TranslationTask(configuration: configuration), settings: configuration.training,
                  output: URL(fileURLWithPath: configuration.output))
    }
}
