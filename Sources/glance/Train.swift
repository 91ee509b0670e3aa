import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels

/// `glance train`: trains the character-level language model described by a config file.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a character-level language model from a JSON config.",
        discussion: "Every config field is documented in configs/README.md; unknown fields are rejected."
    )

    @Option(help: "Training configuration (JSON).") var config: String
    @Flag(help: "Continue from the run folder's checkpoint, exactly where it stopped.") var resume = false
    @Option(help: "Override training.steps.") var steps: Int?
    @Option(help: "Override the run folder (output).") var output: String?
    @Flag(help: "Print JSON lines instead of text.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    func run() throws {
        compute.apply()
        var configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: config))
        if let steps { configuration.training.steps = steps }
        if let output { configuration.output = output }
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [.train, .valid])
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        if resume {
            try trainer.resume()
            log("resumed from \(trainer.checkpointURL.path) at step \(trainer.step)")
        } else if FileManager.default.fileExists(atPath: trainer.checkpointURL.path) {
            throw CommandFailure("\(trainer.checkpointURL.path) already exists: pass --resume to continue that run, or choose another --output")
        }
        log("model: \(trainer.model.parameterCount()) parameters, \(configuration.model.layers) layers, d_model \(configuration.model.modelDimensions), attention \(configuration.model.attention); \(Threading.count) threads")
        let reporter = TrainingReporter(json: json, total: configuration.training.steps)
        try trainer.run(report: reporter.report)
    }

    func log(_ message: String) {
        if json { printError(message) } else { print(message) }
    }
}

/// Turns training events into lines: text for people, JSON for scripts.
struct TrainingReporter {
    let json: Bool
    let total: Int

    func report(_ event: TrainingEvent) {
        let ln2 = Float(M_LN2)
        switch event {
        case let .progress(step, loss, rate, lr, left):
            emit(json ? #"{"step": \#(step), "loss": \#(loss), "bpc": \#(loss / ln2), "tokens_per_s": \#(Int(rate)), "lr": \#(lr)}"#
                 : String(format: "step %6d/%d  loss %.4f  bpc %.4f  %8.0f tok/s  lr %.2e  ETA %@", step, total, loss, loss / ln2, rate, lr, Self.duration(left)))
        case let .validation(step, loss):
            emit(json ? #"{"step": \#(step), "val_loss": \#(loss), "val_bpc": \#(loss / ln2)}"#
                 : String(format: "step %6d  validation loss %.4f  bpc %.4f", step, loss, loss / ln2))
        case let .checkpoint(step, path):
            if !json { emit("step \(step)  checkpoint written to \(path)") }
        case let .finished(step, loss, rate, seconds):
            emit(json ? #"{"final_val_bpc": \#(loss / ln2), "final_val_loss": \#(loss), "train_tokens_per_s": \#(Int(rate)), "steps": \#(step), "seconds": \#(Int(seconds))}"#
                 : String(format: "finished %d steps in %@: validation bpc %.4f, %.0f training tokens/s", step, Self.duration(seconds), loss / ln2, rate))
        }
    }

    func emit(_ line: String) {
        print(line)
        fflush(nil)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : "\(s / 60)m\(String(format: "%02d", s % 60))s"
    }
}
