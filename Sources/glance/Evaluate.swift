import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// `glance eval`: bits per character of a trained model on a corpus split, and the spans an
/// Adaptive Span model learned.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Report bits per character of a trained run on a split (a translation run: BLEU and chrF; a forecaster: ρ-quantile losses, MAE and sMAPE against seasonal naive).")

    @Option(help: "The run's training configuration (JSON).") var config: String
    @Option(help: "Split to evaluate: train, valid or test.") var split = "test"
    @Option(parsing: .unconditional, help: "Windows to evaluate (default: the config's eval_windows); a model with a memory (transformer_xl's mem_len, adaptive_span's cache) reads the whole split (--bytes: its beginning).") var windows: Int?
    @Option(help: "The run folder, when training overrode the config's output.") var output: String?
    @OptionGroup(title: "Evaluation speed (Dai et al.: Transformer-XL with memory against a vanilla sliding window)") var speed: EvaluationSpeedOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ByteCorpus.Split(rawValue: split) != nil else { throw ValidationError("--split must be train, valid or test, got '\(split)'") }
        if let windows, windows < 1 { throw ValidationError("--windows must be at least 1, got \(windows)") }
    }

    func run() throws {
        compute.apply()
        if TranslationDataConfiguration.describesRun(at: URL(fileURLWithPath: config)) {
            return try evaluateTranslation(config: config, split: split, output: output)
        }
        if isForecastingConfiguration(config) {
            guard split == "test" else { throw CommandFailure("--split \(split): a forecasting run is evaluated on its test period") }
            return try evaluateForecaster(config: config, run: output, windows: windows)
        }
        if speed.requested {
            guard windows == nil else { throw CommandFailure("--windows does not apply with --slide, --attention-length, --segment or --bytes") }
            return try speed.evaluate(config: config, split: ByteCorpus.Split(rawValue: split)!, output: output)
        }
        var configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: config))
        if let windows { configuration.training.evalWindows = windows }
        if let output { configuration.output = output }
        let part = ByteCorpus.Split(rawValue: split)!
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [.train, .valid, part])
        let bytes = corpus.bytes(of: part).count, needed = configuration.model.context + 2
        guard bytes >= needed else { throw CorpusError.tooSmall(path: corpus.path(of: part), bytes: bytes, needed: needed) }
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try trainer.resume()
        let loss = trainer.evaluate(part)
        let read = configuration.model.memoryLength > 0
            ? "all \(bytes) bytes as one stream of \(configuration.model.context)-byte segments with memory"
            : "\(configuration.training.evalWindows) windows of \(configuration.model.context) bytes"
        print(String(format: "%@ bpc %.4f (loss %.4f nats, step %d, %@)", split, loss / Float(M_LN2), loss, trainer.step, read))
        printLearnedSpans(of: trainer.model.blocks)
    }
}
