import ArgumentParser
import Foundation
import GlanceData
import GlanceTraining

/// `glance classify`: trains a byte-level text classifier and reports validation and test accuracy.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a byte-level Transformer text classifier from a JSON config; report validation and test accuracy.",
        discussion: """
        The corpus is a folder from `glance data fetch --corpus 20newsgroups` (classes.txt, \
        train.tsv, valid.tsv, test.tsv). Every config field is documented in configs/README.md; \
        unknown fields are rejected. The run writes a resumable checkpoint every \
        checkpoint_every steps (--resume continues exactly) and, at the end, model.safetensors \
        in place of the checkpoint. The last line (with --json, every line is JSON) holds \
        final_val_accuracy, test_accuracy, train_tokens_per_s, steps and seconds.
        """
    )

    @OptionGroup var options: TrainingOptions

    func run() throws {
        let configuration = try options.configuration(ClassifierConfiguration.self)
        let corpus = try LabelledTextCorpus(folder: URL(fileURLWithPath: configuration.data.corpus),
                                            validationFraction: configuration.data.validationFraction)
        let trainer = try ClassifierTrainer(configuration: configuration, corpus: corpus)
        try options.train(trainer, description: describe(trainer.model, configuration.model)
            + ", \(configuration.model.context) bytes per document; \(corpus.classNames.count) classes, "
            + "\(corpus.train.count)/\(corpus.valid.count)/\(corpus.test.count) train/valid/test documents")
    }
}
