import Foundation
import GlanceModels

extension ConformerEncoderConfiguration: RunModelConfiguration {
    /// Parameters with AdamW's state, and the activations of one step (frames of about 16 s of
    /// audio per utterance after subsampling, a generous bound for the corpora here).
    public func trainingMemory(microBatch: Int, field: String) -> MemoryEstimate {
        var estimate = MemoryEstimate()
        estimate.add("parameters, gradients and optimizer state",
                     [("model.layers", layers), ("model.d_model", modelDimensions), ("model.d_ff", feedForwardDimensions)], bytesPerElement: 4 * 4 * 3)
        estimate.add("layers' activations", [(field, microBatch), ("frames", 400), ("model.d_model", modelDimensions), ("model.layers", layers)],
                     bytesPerElement: 4 * 24)
        return estimate
    }
}

/// The data section of a speech recognition run: a speech corpus folder (`glance data fetch
/// --corpus speech`: train/valid/test/test-real manifests and vocabulary.json), SpecAugment's
/// masks (Park et al. 2019) applied to training batches, and how much of valid is scored at
/// each validation. Its `speech_corpus` key is what makes `glance train` treat a config as a
/// speech run.
public struct SpeechDataConfiguration: RunDataConfiguration, Sendable {
    public typealias Model = ConformerEncoderConfiguration

    /// The speech corpus folder.
    public var speechCorpus: String
    /// SpecAugment: frequency masks per utterance and the widest (bins, uniform in 0…width).
    public var frequencyMasks = 2
    public var frequencyMaskWidth = 15
    /// SpecAugment: time masks per utterance; each is at most this fraction of the utterance's frames.
    public var timeMasks = 2
    public var timeMaskRatio = 0.05
    /// Validation scores the first this many utterances of valid (nil: all).
    public var evaluationUtterances: Int? = nil
    /// Leave out utterances whose transcripts need more frames than their audio has after
    /// subsampling (counted when the run starts); false: such an utterance is an error naming its line.
    public var skipUnfit = false

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })
    public static let defaultOutput = "runs/speech"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case speechCorpus = "speech_corpus", frequencyMasks = "freq_masks", frequencyMaskWidth = "freq_mask_width"
        case timeMasks = "time_masks", timeMaskRatio = "time_mask_ratio", evaluationUtterances = "eval_utterances"
        case skipUnfit = "skip_unfit"
    }

    public init(speechCorpus: String) { self.speechCorpus = speechCorpus }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SpeechDataConfiguration(speechCorpus: "")
        speechCorpus = try c.decode(String.self, forKey: .speechCorpus)
        frequencyMasks = try c.value(.frequencyMasks, default: d.frequencyMasks)
        frequencyMaskWidth = try c.value(.frequencyMaskWidth, default: d.frequencyMaskWidth)
        timeMasks = try c.value(.timeMasks, default: d.timeMasks)
        timeMaskRatio = try c.value(.timeMaskRatio, default: d.timeMaskRatio)
        evaluationUtterances = try c.decodeIfPresent(Int.self, forKey: .evaluationUtterances)
        skipUnfit = try c.value(.skipUnfit, default: d.skipUnfit)
    }

    /// SpecAugment as configured.
    public var specAugment: SpecAugment {
        SpecAugment(frequencyMasks: frequencyMasks, frequencyMaskWidth: frequencyMaskWidth, timeMasks: timeMasks, timeMaskRatio: timeMaskRatio)
    }

    public func validate(model: ConformerEncoderConfiguration) throws {
        try model.validateSection()
        func require(_ condition: Bool, _ key: CodingKeys, _ reason: String) throws {
            if !condition { throw ConfigurationValueError(field: "data.\(key.rawValue)", reason: reason) }
        }
        try require(!speechCorpus.isEmpty, .speechCorpus, "must name the corpus folder")
        try require(frequencyMasks >= 0, .frequencyMasks, "must be at least 0, got \(frequencyMasks)")
        try require(frequencyMaskWidth >= 0 && frequencyMaskWidth <= model.features, .frequencyMaskWidth,
                    "must be in 0…\(model.features) (model.features), got \(frequencyMaskWidth)")
        try require(timeMasks >= 0, .timeMasks, "must be at least 0, got \(timeMasks)")
        try require(timeMaskRatio >= 0 && timeMaskRatio <= 1, .timeMaskRatio, "must be in [0, 1], got \(timeMaskRatio)")
        if let evaluationUtterances { try require(evaluationUtterances >= 1, .evaluationUtterances, "must be at least 1, got \(evaluationUtterances)") }
    }
}

/// `glance train` on a speech config: a Conformer-CTC recogniser on a speech corpus.
public typealias SpeechRunConfiguration = RunConfiguration<SpeechDataConfiguration>
