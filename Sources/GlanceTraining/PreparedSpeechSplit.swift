import Foundation
import GlanceCore
import GlanceData
import GlanceNN

/// One split of a speech corpus ready for a recogniser: every utterance's log-mel features
/// (computed once, kept in memory), its labels, and the order of the utterances by length.
/// Loading checks what a CTC recogniser needs of each line of the manifest and names the
/// manifest, the line and the audio file when something is wrong: audio that is not a readable
/// WAV, is empty or too short for one feature frame, and transcripts that need more frames
/// than the audio has left after the encoder's subsampling (an error, or with `skippingUnfit`
/// the utterance is left out and counted in ``unfit``).
public struct PreparedSpeechSplit: Sendable {
    public let split: SpeechCorpus.Split
    public let utterances: [SpeechUtterance]
    /// Features [frames, bins] of each utterance, row-major.
    public let features: [[Float]]
    public let frames: [Int]
    public let labels: [[Int]]
    /// Utterance indices from the fewest frames to the most (stable).
    public let byLength: [Int]
    public let bins: Int
    /// Utterances left out because their transcripts need more frames than their audio leaves.
    public let unfit: Int

    /// Reads and checks `split` of `corpus`; `subsampled` gives the encoder's output frames of
    /// an input length and `subsampling` describes it in errors ("4× conv2d subsampling").
    public init(_ split: SpeechCorpus.Split, of corpus: SpeechCorpus, extractor: LogMelFeatures,
                subsampled: (Int) -> Int, subsampling: String, skippingUnfit: Bool = false) throws {
        let manifest = SpeechCorpus.manifestURL(of: split, in: corpus.folder)
        let all = try corpus.utterances(of: split)
        let lines = try Self.lineNumbers(of: manifest)
        let bins = extractor.configuration.melBins
        var utterances = [SpeechUtterance](), features = [[Float]](), frames = [Int](), labels = [[Int]](), unfit = 0
        for (index, utterance) in all.enumerated() {
            func failure(_ reason: String) -> SpeechCorpusError {
                .malformedLine(path: manifest.path, line: lines[index], reason: "\(utterance.audioPath): \(reason)")
            }
            let audio: MonoAudio
            do { audio = try WAVFile.read(from: corpus.audioURL(of: utterance), resamplingTo: extractor.configuration.sampleRate) } catch let error as AudioFileError {
                throw failure("\(error)")
            }
            let batch: LogMelFeatureBatch
            do { batch = try extractor.features(samples: audio.samples) } catch let error as LogMelInputError {
                throw failure("too short: \(error.samples) samples; the features need at least \(error.neededSamples)")
            }
            let length = batch.lengths[0]
            let label = corpus.vocabulary.encode(utterance.transcript)!  // the manifest reader checked the characters
            let available = subsampled(length), needed = ctcMinimumFrames(label)
            guard needed <= available else {
                if skippingUnfit { unfit += 1; continue }
                throw failure("the transcript needs at least \(needed) frames (\(label.count) characters and \(needed - label.count) repeated neighbours) "
                              + "but \(length) feature frames leave \(available) after \(subsampling): the transcript is too long for its audio "
                              + "(data.skip_unfit leaves such utterances out)")
            }
            utterances.append(utterance)
            features.append(batch.features.withUnsafeBufferPointer { Array($0[0..<(length * bins)]) })
            frames.append(length)
            labels.append(label)
        }
        self.split = split
        self.utterances = utterances
        self.features = features
        self.frames = frames
        self.labels = labels
        self.bins = bins
        self.unfit = unfit
        byLength = frames.indices.sorted { (frames[$0], $0) < (frames[$1], $1) }
    }

    /// The line number of each non-empty line of `manifest`, in order (as the manifest reader counts them).
    static func lineNumbers(of manifest: URL) throws -> [Int] {
        let text = try String(contentsOf: manifest, encoding: .utf8)
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().compactMap { $1.isEmpty ? nil : $0 + 1 }
    }

    /// The features of `indices` padded to the longest, [count, frames, bins] row-major, and their lengths.
    public func padded(_ indices: [Int]) -> (values: [Float], frames: Int, lengths: [Int]) {
        let lengths = indices.map { frames[$0] }
        let longest = lengths.max() ?? 0
        var values = [Float](repeating: 0, count: indices.count * longest * bins)
        for (row, index) in indices.enumerated() {
            let start = row * longest * bins
            values.replaceSubrange(start..<(start + features[index].count), with: features[index])
        }
        return (values, longest, lengths)
    }
}
