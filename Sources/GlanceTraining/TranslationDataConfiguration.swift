import Foundation
import GlanceModels

extension TranslationConfiguration: RunModelConfiguration {}

/// The data section of a translation run: a bitext folder (`glance data fetch --corpus
/// bible-en-es`) with {train,valid,test}.{source,target}, the translation direction, the loss's
/// label smoothing and how validation and evaluation translate. Its `bitext` key is what
/// makes `glance train` treat a config as a translation run.
public struct TranslationDataConfiguration: RunDataConfiguration, Sendable {
    public typealias Model = TranslationConfiguration

    /// The bitext folder.
    public var bitext: String
    /// The source and target languages: the files' extensions.
    public var source = "en"
    public var target = "es"
    /// fairseq's label smoothing ε.
    public var labelSmoothing: Float = 0.1
    /// Validation translates the first this many validation pairs for BLEU and chrF (0: none).
    public var evaluationSentences = 100
    /// Beam width of validation, `glance eval` and (by default) `glance translate`; 1 is greedy.
    public var beam = 4
    /// fairseq's length penalty α: hypotheses are ranked by log P / length^α.
    public var lengthPenalty: Float = 1

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })
    public static let defaultOutput = "runs/translate"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case bitext, source, target, labelSmoothing = "label_smoothing", evaluationSentences = "eval_sentences", beam
        case lengthPenalty = "length_penalty"
    }

    public init(bitext: String) { self.bitext = bitext }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TranslationDataConfiguration(bitext: "")
        bitext = try c.decode(String.self, forKey: .bitext)
        source = try c.value(.source, default: d.source)
        target = try c.value(.target, default: d.target)
        labelSmoothing = try c.value(.labelSmoothing, default: d.labelSmoothing)
        evaluationSentences = try c.value(.evaluationSentences, default: d.evaluationSentences)
        beam = try c.value(.beam, default: d.beam)
        lengthPenalty = try c.value(.lengthPenalty, default: d.lengthPenalty)
    }

    public func validate(model: TranslationConfiguration) throws {
        try model.validate()
        for (field, language) in [("source", source), ("target", target)]
        where language.isEmpty || !language.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            throw ConfigurationValueError(field: "data.\(field)", reason: "must be a file extension such as 'en' (letters, digits, - or _), got '\(language)'")
        }
        if source == target { throw ConfigurationValueError(field: "data.target", reason: "must differ from data.source ('\(source)')") }
        if !(labelSmoothing >= 0 && labelSmoothing < 1) {
            throw ConfigurationValueError(field: "data.label_smoothing", reason: "must be in [0, 1), got \(labelSmoothing)")
        }
        if evaluationSentences < 0 { throw ConfigurationValueError(field: "data.eval_sentences", reason: "must be at least 0, got \(evaluationSentences)") }
        if beam < 1 || beam > 1024 { throw ConfigurationValueError(field: "data.beam", reason: "must be in 1…1024, got \(beam)") }
        if !lengthPenalty.isFinite { throw ConfigurationValueError(field: "data.length_penalty", reason: "must be a finite number") }
    }
}

/// `glance train` on a translation config: an encoder-decoder model on a bitext.
public typealias TranslationRunConfiguration = RunConfiguration<TranslationDataConfiguration>
