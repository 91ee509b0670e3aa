import GlanceModels

/// Where the labelled corpus is (a ``GlanceData/LabelledTextCorpus`` folder) and how to get a
/// validation split when it has no `valid.tsv`.
public struct ClassificationDataConfiguration: RunDataConfiguration, Sendable {
    public var corpus: String
    /// Without `valid.tsv`: the fraction of train held out for validation (seeded shuffle, seed 0).
    public var validationFraction: Double = 0.1
    /// Evaluate validation and test on a fixed sample of at most this many documents each
    /// (seeded shuffle, seed 0, the same for every run); nil: every document.
    public var evaluationDocuments: Int? = nil

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })
    public static let defaultOutput = "runs/classifier"

    enum CodingKeys: String, CodingKey, CaseIterable { case corpus, validationFraction = "validation_fraction", evaluationDocuments = "eval_documents" }

    public init(corpus: String) { self.corpus = corpus }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        corpus = try c.decode(String.self, forKey: .corpus)
        validationFraction = try c.value(.validationFraction, default: 0.1)
        evaluationDocuments = try c.decodeIfPresent(Int.self, forKey: .evaluationDocuments)
    }

    /// The model's fields (the encoder is bidirectional: any mechanism, Linformer included), and bytes as its vocabulary.
    public func validate(model: LanguageModelConfiguration) throws {
        try model.validate()
        if model.vocabularySize != 256 {
            throw ConfigurationValueError(field: "model.vocab_size", reason: "must be 256: the classifier reads bytes, got \(model.vocabularySize)")
        }
        try validate()
    }

    public func validate() throws {
        if !(validationFraction > 0 && validationFraction < 1) {
            throw ConfigurationValueError(field: "data.validation_fraction", reason: "must be in (0, 1), got \(validationFraction)")
        }
        if let evaluationDocuments, evaluationDocuments < 1 {
            throw ConfigurationValueError(field: "data.eval_documents", reason: "must be at least 1, got \(evaluationDocuments)")
        }
    }
}
