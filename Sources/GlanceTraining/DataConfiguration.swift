import GlanceModels

/// Where the language model's corpus is: a folder with train.txt, valid.txt and test.txt.
public struct DataConfiguration: RunDataConfiguration, Sendable {
    public var corpus: String

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = ["corpus": nil]
    public static let defaultOutput = "runs/charlm"

    public init(corpus: String) { self.corpus = corpus }

    /// The model's fields; whether its attention serves a causal decoder is checked when the model builds its layers.
    public func validate(model: LanguageModelConfiguration) throws {
        try model.validate()
    }
}
