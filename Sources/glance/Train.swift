import ArgumentParser
import Foundation
import GlanceData
import GlanceTraining

/// `glance train`: trains the character-level language model described by a config file.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a character-level language model, a translation model (a config whose data names a bitext) or a forecaster (a config whose data names targets) from a JSON config.",
        discussion: "Every config field is documented in configs/README.md; unknown fields are rejected."
    )

    @OptionGroup var options: TrainingOptions

    func run() throws {
        if TranslationDataConfiguration.describesRun(at: URL(fileURLWithPath: options.config)) { return try trainTranslation(options) }
        if isForecastingConfiguration(options.config) { return try trainForecaster(options) }
        let configuration = try options.configuration(TrainingConfiguration.self)
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [.train, .valid])
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try options.train(trainer, description: describe(trainer.model, configuration.model))
    }
}
