import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels

/// `glance classify`: trains a byte-level text classifier and reports validation and test accuracy.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a byte-level Transformer text classifier from a JSON config; report validation and test accuracy.",
        discussion: """
        The corpus is a folder from `glance data fetch --corpus 20newsgroups` (classes.txt, \
        train.tsv, valid.tsv, test.tsv). Every config field is documented in configs/README.md; \
        unknown fields are rejected. The last line (with --json, every line is JSON) holds \
        final_val_accuracy, test_accuracy, train_tokens_per_s, steps and seconds.
        """
    )

    @Option(help: "Classifier configuration (JSON).") var config: String
    @Option(help: "Override training.steps.") var steps: Int?
    @Option(help: "Override the run folder (output).") var output: String?
    @Flag(help: "Print JSON lines instead of text.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    func run() throws {
        compute.apply()
        var configuration = try loadConfiguration(ClassifierConfiguration.self, from: URL(fileURLWithPath: config))
        if let steps { configuration.training.steps = steps }
        if let output { configuration.output = output }
        let corpus = try LabelledTextCorpus(folder: URL(fileURLWithPath: configuration.data.corpus),
                                            validationFraction: configuration.data.validationFraction)
        let trainer = try ClassifierTrainer(configuration: configuration, corpus: corpus)
        let m = configuration.model
        let message = "model: \(trainer.model.parameterCount()) parameters, \(m.layers) layers, d_model \(m.modelDimensions), attention \(m.attention), "
            + "\(m.context) bytes per document; \(corpus.classNames.count) classes, \(corpus.train.count)/\(corpus.valid.count)/\(corpus.test.count) "
            + "train/valid/test documents; \(Threading.count) threads"
        if json { printError(message) } else { print(message) }
        try trainer.run(report: ClassificationReporter(json: json, total: configuration.training.steps).report)
    }
}

/// Turns classifier training events into lines: text for people, JSON for scripts.
struct ClassificationReporter {
    let json: Bool
    let total: Int

    func report(_ event: ClassificationEvent) {
        let line: String
        switch event {
        case let .progress(step, loss, rate, lr, left):
            line = json ? #"{"step": \#(step), "loss": \#(loss), "tokens_per_s": \#(Int(rate)), "lr": \#(lr)}"#
                : String(format: "step %6d/%d  loss %.4f  %8.0f tok/s  lr %.2e  ETA %@", step, total, loss, rate, lr, TrainingReporter.duration(left))
        case let .validation(step, result):
            line = json ? #"{"step": \#(step), "val_loss": \#(result.loss), "val_accuracy": \#(result.accuracy)}"#
                : String(format: "step %6d  validation loss %.4f  accuracy %.4f (%d documents)", step, result.loss, result.accuracy, result.documents)
        case let .finished(step, validation, test, tokenRate, documentRate, seconds):
            // The summary is one JSON line in both modes, for scripts.
            if !json {
                print(String(format: "finished %d steps in %@: validation accuracy %.4f, test accuracy %.4f (loss %.4f), %.0f training tokens/s (%.2f documents/s)",
                             step, TrainingReporter.duration(seconds), validation.accuracy, test.accuracy, test.loss, tokenRate, documentRate))
            }
            line = #"{"final_val_accuracy": \#(validation.accuracy), "final_val_loss": \#(validation.loss), "test_accuracy": \#(test.accuracy), "test_loss": \#(test.loss), "train_tokens_per_s": \#(Int(tokenRate)), "train_documents_per_s": \#(documentRate), "steps": \#(step), "seconds": \#(Int(seconds))}"#
        }
        print(line)
        fflush(nil)
    }
}
