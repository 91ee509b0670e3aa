import ArgumentParser
import GlanceData

/// `glance eval`: scores a trained run on a split, as its kind scores (``RunKinds``).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Report bits per character of a trained run on a split (a translation run: BLEU and chrF; a forecaster: ρ-quantile losses, "
            + "MAE and sMAPE against seasonal naive; a speech recogniser: WER and CER with substitutions, deletions and insertions, and the real-time factor).")

    @Option(help: "The run's training configuration (JSON).") var config: String
    @Option(help: "Split to evaluate: train, valid or test (a speech run also test-real; default test).") var split: String?
    @Option(parsing: .unconditional, help: "Windows to evaluate (default: the config's eval_windows); a model with a memory (transformer_xl's mem_len, adaptive_span's cache) reads the whole split (--bytes: its beginning).") var windows: Int?
    @Option(parsing: .unconditional, help: "A speech run: CTC prefix beam search with this many prefixes (default 1: greedy).") var beam: Int?
    @Option(help: "The run folder, when training overrode the config's output.") var output: String?
    @OptionGroup(title: "Evaluation speed (Dai et al.: Transformer-XL with memory against a vanilla sliding window)") var speed: EvaluationSpeedOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let windows, windows < 1 { throw ValidationError("--windows must be at least 1, got \(windows)") }
        if let beam, beam < 1 { throw ValidationError("--beam must be at least 1, got \(beam)") }
    }

    func run() throws {
        compute.apply()
        if speed.requested {
            guard RunKinds.kind(ofConfig: config) == LanguageModelRun.self else {
                throw ValidationError("--slide, --attention-length, --segment and --bytes apply to a character-level language model (\(config))")
            }
            guard windows == nil, beam == nil else { throw ValidationError("--windows and --beam do not apply with --slide, --attention-length, --segment or --bytes") }
            let name = split ?? "test"
            guard let part = ByteCorpus.Split(rawValue: name) else { throw ValidationError("--split must be train, valid or test, got '\(name)'") }
            return try speed.evaluate(config: config, split: part, output: output)
        }
        try RunKinds.kind(ofConfig: config).evaluate(EvaluationRequest(config: config, split: split, windows: windows, output: output, beam: beam))
    }
}
