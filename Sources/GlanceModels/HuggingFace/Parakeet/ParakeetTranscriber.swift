import Foundation
import GlanceCore
import GlanceData

/// A Parakeet CTC folder that does not hold a usable model, feature extractor or tokenizer.
public struct ParakeetFolderError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}

/// One utterance's recognised CTC units (repeats collapsed, blanks dropped) and their text.
public struct Transcript: Sendable, Equatable {
    public var ids: [Int]
    public var text: String

    public init(ids: [Int], text: String) {
        self.ids = ids
        self.text = text
    }
}

/// Speech → text with a Hugging Face `ParakeetForCTC` folder as transformers 5.24.0 saves model
/// and processor: config.json + model.safetensors, the feature extractor's settings
/// (preprocessor_config.json, or processor_config.json's `feature_extractor`) and the tokenizer
/// (tokenizer.json, tokenizer_config.json). Log-mel features of a padded batch → encoder → CTC
/// head → greedy or prefix-beam decoding → pieces → text.
public struct ParakeetTranscriber {
    public let model: ConformerCTC
    public let features: LogMelFeatures
    public let tokenizer: PieceTokenizer

    /// Loads every part of `folder`; errors name the file (and field) at fault.
    public init(folder: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ParakeetFolderError(path: folder.path, reason: "is not a folder (a Parakeet CTC model folder holds config.json, "
                + "model.safetensors, processor_config.json or preprocessor_config.json, and tokenizer.json)")
        }
        model = try ParakeetCheckpoint.load(folder: folder)
        let settings = ["preprocessor_config.json", "processor_config.json"].map { folder.appendingPathComponent($0) }
        guard let settingsFile = settings.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw ParakeetFolderError(path: folder.path, reason: "has neither preprocessor_config.json nor processor_config.json "
                + "(the feature extractor's settings, written by the processor's save_pretrained)")
        }
        let configuration = try LogMelConfiguration(contentsOf: settingsFile)
        let bins = model.encoder.configuration.features
        guard configuration.melBins == bins else {
            throw ParakeetFolderError(path: settingsFile.path,
                                      reason: "field 'feature_size' is \(configuration.melBins) but the model's config.json expects \(bins) mel bins")
        }
        features = try LogMelFeatures(configuration)
        tokenizer = try PieceTokenizer(folder: folder)
        let vocabulary = model.head.vocabulary
        let tokenizerFile = folder.appendingPathComponent("tokenizer.json").path
        guard tokenizer.count == vocabulary else {
            throw ParakeetFolderError(path: tokenizerFile, reason: "holds \(tokenizer.count) tokens but the model has \(vocabulary) output units")
        }
        if let pad = tokenizer.padID, pad != model.blank {
            throw ParakeetFolderError(path: tokenizerFile, reason: "the pad token is id \(pad) but the model's blank (pad_token_id) is \(model.blank)")
        }
    }

    /// The CTC head's scores [batch, frames′, vocabulary] for `audio` (each at the feature
    /// extractor's sample rate), batched with padding, and the frames′ of each entry.
    public func logits(_ audio: [MonoAudio]) throws -> (logits: Tensor, lengths: [Int]) {
        let batch = try featureBatch(audio)
        return withoutGradients { model.logits(batch.features, lengths: batch.lengths) }
    }

    /// The transcript of each of `audio` (one padded batch): greedy decoding when `beamWidth`
    /// is 1, else CTC prefix beam search keeping `beamWidth` prefixes.
    public func transcribe(_ audio: [MonoAudio], beamWidth: Int = 1) throws -> [Transcript] {
        let batch = try featureBatch(audio)
        let decoded = model.decode(batch.features, lengths: batch.lengths, beamWidth: beamWidth)
        return decoded.map { Transcript(ids: $0, text: tokenizer.decode($0, mergingRepeats: false)) }
    }

    func featureBatch(_ audio: [MonoAudio]) throws -> LogMelFeatureBatch {
        let rate = features.configuration.sampleRate
        precondition(audio.allSatisfy { $0.sampleRate == rate },
                     "audio at \(audio.map(\.sampleRate)) Hz; the feature extractor takes \(rate) Hz")
        return try features.features(batch: audio.map(\.samples))
    }
}
