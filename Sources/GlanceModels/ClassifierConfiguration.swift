import Foundation

/// Everything `glance classify` needs: the encoder, the optimization, the labelled corpus
/// and where to write. Sections as in ``TrainingConfiguration``; unknown keys are rejected.
public struct ClassifierConfiguration: StrictConfigurationSection, Equatable, Sendable {
    /// The encoder's shape; `context` is the document length in bytes (longer documents are
    /// cut, shorter ones padded). Any attention mechanism, Linformer included.
    public var model: LanguageModelConfiguration
    public var training: OptimizationConfiguration
    public var data: ClassificationDataConfiguration
    /// Run folder: the trained parameters go to `OUTPUT/model.safetensors`.
    public var output: String

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = [
        "model": LanguageModelConfiguration.self, "training": OptimizationConfiguration.self,
        "data": ClassificationDataConfiguration.self, "output": nil,
    ]

    enum CodingKeys: String, CodingKey { case model, training, data, output }

    public init(model: LanguageModelConfiguration = .init(), training: OptimizationConfiguration = .init(),
                data: ClassificationDataConfiguration, output: String = "runs/classifier") {
        self.model = model
        self.training = training
        self.data = data
        self.output = output
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.value(.model, default: LanguageModelConfiguration())
        training = try c.value(.training, default: OptimizationConfiguration())
        data = try c.decode(ClassificationDataConfiguration.self, forKey: .data)
        output = try c.value(.output, default: "runs/classifier")
        try validate()
    }

    public func validate() throws {
        try model.validate()
        if model.vocabularySize != 256 {
            throw ConfigurationValueError(field: "model.vocab_size", reason: "must be 256: the classifier reads bytes, got \(model.vocabularySize)")
        }
        try training.validate()
        try data.validate()
    }
}

/// Where the labelled corpus is (a ``GlanceData/LabelledTextCorpus`` folder) and how to get a
/// validation split when it has no `valid.tsv`.
public struct ClassificationDataConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var corpus: String
    /// Without `valid.tsv`: the fraction of train held out for validation (seeded shuffle, seed 0).
    public var validationFraction: Double = 0.1
    /// Evaluate validation and test on a fixed sample of at most this many documents each
    /// (seeded shuffle, seed 0, the same for every run); nil: every document.
    public var evaluationDocuments: Int? = nil

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable { case corpus, validationFraction = "validation_fraction", evaluationDocuments = "eval_documents" }

    public init(corpus: String) { self.corpus = corpus }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        corpus = try c.decode(String.self, forKey: .corpus)
        validationFraction = try c.value(.validationFraction, default: 0.1)
        evaluationDocuments = try c.decodeIfPresent(Int.self, forKey: .evaluationDocuments)
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
