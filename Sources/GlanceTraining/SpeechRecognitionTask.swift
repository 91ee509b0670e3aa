import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// A recogniser's scores on a split: the mean CTC loss per label (nats; the training loss's
/// reduction) and the word and character edit counts of the decoded transcripts.
public struct SpeechEvaluation: Sendable, Equatable {
    public let loss: Double
    public let words: ErrorCounts
    public let characters: ErrorCounts
    public let utterances: Int
    public let audioSeconds: Double
}

/// Speech recognition with a ``GlanceModels/ConformerCTC`` (characters of the corpus's
/// vocabulary as output units) on a ``GlanceData/SpeechCorpus``: batches of utterances of
/// similar lengths (``LengthBucketedBatches``), padded with their lengths carried, log-mel
/// features computed once per utterance, SpecAugment masks on training batches drawn from the
/// model's random stream (saved with checkpoints, so a resumed run draws what it would have),
/// CTC loss (mean over utterances of loss / label length), and at each validation the loss
/// with greedy WER and CER. The final report adds test (and test-real, when the corpus has
/// it) WER and CER.
public final class SpeechRecognitionTask: TrainingTask {
    public static let name = "speech-recognition"
    public static let exampleName = "utterances"

    public let configuration: SpeechRunConfiguration
    public let corpus: SpeechCorpus
    public let model: ConformerCTC
    public let extractor: LogMelFeatures
    /// The splits loaded so far.
    public private(set) var splits: [SpeechCorpus.Split: PreparedSpeechSplit] = [:]
    public var samplerState: LengthBucketedBatches

    public var modelConfiguration: ConformerEncoderConfiguration { configuration.model }
    public var randomSource: RandomSource { model.encoder._randomSource }

    /// The task of `configuration`, with `preparing` loaded (and checked) at once; other splits
    /// load when first used.
    public init(configuration: SpeechRunConfiguration, preparing: [SpeechCorpus.Split] = [.train, .valid]) throws {
        self.configuration = configuration
        corpus = try SpeechCorpus(folder: URL(fileURLWithPath: configuration.data.speechCorpus))
        extractor = try LogMelFeatures(LogMelConfiguration(melBins: configuration.model.features))
        let seed = configuration.training.seed
        model = ConformerCTC(encoder: try ConformerEncoder(configuration: configuration.model, seed: seed),
                             vocabulary: corpus.vocabulary.tokens.count, blank: corpus.vocabulary.blank, seed: seed)
        samplerState = LengthBucketedBatches(seed: seed &+ 3)
        for split in preparing { try prepare(split) }
    }

    /// Loads `split` unless it is loaded; errors name the manifest, the line and the audio.
    @discardableResult
    public func prepare(_ split: SpeechCorpus.Split) throws -> PreparedSpeechSplit {
        if let prepared = splits[split] { return prepared }
        let m = configuration.model
        let prepared = try PreparedSpeechSplit(split, of: corpus, extractor: extractor, subsampled: model.encoder.subsampling.outputLength,
                                               subsampling: "\(m.subsamplingFactor)× \(m.subsampling.rawValue) subsampling",
                                               skippingUnfit: configuration.data.skipUnfit)
        splits[split] = prepared
        return prepared
    }

    private func prepared(_ split: SpeechCorpus.Split) -> PreparedSpeechSplit {
        guard let prepared = splits[split] else { preconditionFailure("the \(split.rawValue) split of the speech task is not loaded") }
        return prepared
    }

    /// Feature frames of a step: `batchSize` utterances of the mean training length.
    public func tokens(batchSize: Int) -> Int {
        let train = prepared(.train)
        return batchSize * train.frames.reduce(0, +) / Swift.max(train.frames.count, 1)
    }

    public func nextBatch(size: Int) -> UtteranceBatch {
        UtteranceBatch(indices: samplerState.next(size: size, byLength: prepared(.train).byLength))
    }

    public func loss(_ batch: UtteranceBatch, carried: inout [String: Tensor]) -> Tensor {
        let train = prepared(.train)
        var (values, frames, lengths) = train.padded(batch.indices)
        configuration.data.specAugment.apply(to: &values, frames: frames, bins: train.bins, lengths: lengths, generator: &randomSource.generator)
        let (logProbabilities, outputLengths) = model(Tensor(values, shape: [lengths.count, frames, train.bins]), lengths: lengths)
        return ctcLossOfCheckedLabels(logProbabilities, labels: batch.indices.map { train.labels[$0] }, lengths: outputLengths, reduction: .mean)
    }

    /// CTC loss of labels that loading checked against their frames.
    private func ctcLossOfCheckedLabels(_ logProbabilities: Tensor, labels: [[Int]], lengths: [Int], reduction: CTCReduction) -> Tensor {
        do {
            return try ctcLoss(logProbabilities: logProbabilities, labels: labels, inputLengths: lengths, blank: model.blank, reduction: reduction)
        } catch { preconditionFailure("labels checked when the split was loaded do not fit: \(error)") }
    }

    public func validationMetrics() -> [Metric] {
        Self.metrics(evaluate(prepared(.valid), limit: configuration.data.evaluationUtterances))
    }

    /// Scores the first `limit` (nil: all) utterances of `split`, in batches of the training
    /// batch size (by length), decoding greedily (`beamWidth` 1) or with CTC prefix beam search.
    public func evaluate(_ split: PreparedSpeechSplit, beamWidth: Int = 1, limit: Int? = nil) -> SpeechEvaluation {
        let count = Swift.min(limit ?? split.utterances.count, split.utterances.count)
        let chosen = split.byLength.filter { $0 < count }
        model.eval()
        defer { model.train() }
        var loss = 0.0, words = ErrorCounts(), characters = ErrorCounts()
        withoutGradients {
            for start in stride(from: 0, to: chosen.count, by: configuration.training.batchSize) {
                let indices = Array(chosen[start..<Swift.min(start + configuration.training.batchSize, chosen.count)])
                let (values, frames, lengths) = split.padded(indices)
                let features = Tensor(values, shape: [indices.count, frames, split.bins])
                let (logProbabilities, outputLengths) = model(features, lengths: lengths)
                let labels = indices.map { split.labels[$0] }
                let losses = ctcLossOfCheckedLabels(logProbabilities, labels: labels, lengths: outputLengths, reduction: .none).scalars
                loss += zip(losses, labels).reduce(0) { $0 + Double($1.0) / Double(Swift.max($1.1.count, 1)) }
                let decoded = model.decode(features, lengths: lengths, beamWidth: beamWidth)
                for (index, units) in zip(indices, decoded) {
                    let reference = split.utterances[index].transcript, hypothesis = corpus.vocabulary.decode(units)
                    words = words + ErrorRates.words(reference: reference, hypothesis: hypothesis)
                    characters = characters + ErrorRates.characters(reference: reference, hypothesis: hypothesis)
                }
            }
        }
        let seconds = chosen.reduce(0) { $0 + split.utterances[$1].seconds }
        return SpeechEvaluation(loss: loss / Double(Swift.max(count, 1)), words: words, characters: characters, utterances: count, audioSeconds: seconds)
    }

    /// The transcripts of `audio` (each at the feature extractor's sample rate, one padded
    /// batch) decoded greedily (`beamWidth` 1) or with CTC prefix beam search. Throws
    /// ``GlanceData/LogMelInputError`` for a signal shorter than two feature hops.
    public func transcribe(_ audio: [MonoAudio], beamWidth: Int = 1) throws -> [Transcript] {
        let rate = extractor.configuration.sampleRate
        precondition(audio.allSatisfy { $0.sampleRate == rate }, "audio at \(audio.map(\.sampleRate)) Hz; the feature extractor takes \(rate) Hz")
        let batch = try extractor.features(batch: audio.map(\.samples))
        model.eval()
        defer { model.train() }
        return model.decode(batch.features, lengths: batch.lengths, beamWidth: beamWidth).map { Transcript(ids: $0, text: corpus.vocabulary.decode($0)) }
    }

    /// Test loss, WER and CER (greedy), and test-real WER and CER when the corpus has real recordings.
    public func finish(output: URL) throws -> [Metric] {
        var metrics = Self.metrics(evaluate(try prepare(.test)))
        if FileManager.default.fileExists(atPath: SpeechCorpus.manifestURL(of: .testReal, in: corpus.folder).path) {
            let real = evaluate(try prepare(.testReal))
            metrics += [Metric("real_wer", real.words.rate), Metric("real_cer", real.characters.rate)]
        }
        return metrics
    }

    static func metrics(_ evaluation: SpeechEvaluation) -> [Metric] {
        [Metric("loss", evaluation.loss), Metric("wer", evaluation.words.rate), Metric("cer", evaluation.characters.rate)]
    }
}

/// Training utterances (indices into the train split) of one batch.
public struct UtteranceBatch: SplittableBatch, Sendable {
    public let indices: [Int]

    public var exampleCount: Int { indices.count }

    public func split(size: Int) -> [UtteranceBatch] {
        stride(from: 0, to: indices.count, by: size).map { UtteranceBatch(indices: Array(indices[$0..<Swift.min($0 + size, indices.count)])) }
    }
}

/// The speech recogniser's trainer.
public typealias SpeechTrainer = Trainer<SpeechRecognitionTask>

extension Trainer where Task == SpeechRecognitionTask {
    /// A trainer of the recogniser of `configuration`, with `preparing` loaded at once.
    public convenience init(configuration: SpeechRunConfiguration, preparing: [SpeechCorpus.Split] = [.train, .valid]) throws {
        self.init(task: try SpeechRecognitionTask(configuration: configuration, preparing: preparing), settings: configuration.training,
                  output: URL(fileURLWithPath: configuration.output))
    }
}
