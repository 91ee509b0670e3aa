import Foundation

/// A labelled speech corpus in a folder: `vocabulary.json` (``SpeechVocabulary``), one
/// ``SpeechManifest`` per split (`train.tsv`, `valid.tsv`, `test.tsv` and `test-real.tsv`
/// for real recordings) and the 16 kHz mono WAVs they name, by convention under `audio/SPLIT/`.
public struct SpeechCorpus: Sendable {
    /// The splits of a speech corpus; the raw value names the manifest.
    public enum Split: String, CaseIterable, Sendable {
        case train, valid, test
        /// Real recordings (the synthetic splits' voices are all synthesisers).
        case testReal = "test-real"
    }

    /// The sample rate of every WAV in a corpus.
    public static let sampleRate = 16_000

    public let folder: URL
    public let vocabulary: SpeechVocabulary

    /// Opens the corpus in `folder`, reading its vocabulary.
    public init(folder: URL) throws {
        self.folder = folder
        vocabulary = try SpeechVocabulary.read(from: folder)
    }

    /// The manifest file of `split` in `folder`.
    public static func manifestURL(of split: Split, in folder: URL) -> URL {
        folder.appendingPathComponent("\(split.rawValue).tsv")
    }

    /// The utterances of `split`, each checked (see ``SpeechManifest/read(from:vocabulary:checkingAudioIn:)``).
    public func utterances(of split: Split) throws -> [SpeechUtterance] {
        try SpeechManifest.read(from: Self.manifestURL(of: split, in: folder), vocabulary: vocabulary, checkingAudioIn: folder)
    }

    /// The WAV file of `utterance`.
    public func audioURL(of utterance: SpeechUtterance) -> URL { folder.appendingPathComponent(utterance.audioPath) }

    /// Reads the audio of `utterance` at 16 kHz.
    public func audio(of utterance: SpeechUtterance) throws -> MonoAudio {
        try WAVFile.read(from: audioURL(of: utterance), resamplingTo: Self.sampleRate)
    }

    /// Stores `audio` (resampled to 16 kHz when needed) as 16-bit PCM at `audioPath` under
    /// `folder`, creating its directory, and returns the utterance for the manifest.
    public static func store(_ audio: MonoAudio, as audioPath: String, transcript: String, in folder: URL) throws -> SpeechUtterance {
        let url = folder.appendingPathComponent(audioPath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let resampled = audio.sampleRate == sampleRate ? audio : try Resampler.resample(audio, to: sampleRate, path: audioPath)
        try WAVFile.write(resampled, to: url)
        return SpeechUtterance(audioPath: audioPath, seconds: resampled.seconds, transcript: transcript)
    }
}
