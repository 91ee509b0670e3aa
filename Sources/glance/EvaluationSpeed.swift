import ArgumentParser
import Foundation
import GlanceAttention
import GlanceData
import GlanceModels
import GlanceTraining

/// `glance eval`'s options for Dai et al.'s evaluation-speed comparison: a model with a memory
/// streamed at a chosen attention length, or any model sliding its window one byte per prediction.
struct EvaluationSpeedOptions: ParsableArguments {
    @Option(name: .customLong("attention-length"), parsing: .unconditional, help: ArgumentHelp(
        "Positions each prediction attends over. Streaming a Transformer-XL run: its memory (mem_len) during evaluation, as Dai et al.'s attention length, so a query of a segment sees L to L + segment − 1 earlier positions. With --slide: the window (default: the context).",
        valueName: "L"))
    var attentionLength: Int?
    @Flag(help: ArgumentHelp(
        "Evaluate as a vanilla Transformer: for each sampled position, one full forward over the window of the L bytes before it, predicting only that byte. No memory and no cached keys or values: the window is recomputed for every prediction, the cost Dai et al. compare against."))
    var slide = false
    @Option(parsing: .unconditional, help: "With --slide: predicted positions, evenly spaced over the split (default: 200).")
    var positions: Int?
    @Option(parsing: .unconditional, help: "Streaming: bytes per segment (default: the context); each segment costs one forward of that many positions.")
    var segment: Int?
    @Option(parsing: .unconditional, help: "Streaming: read only the first N bytes of the split (default: all).")
    var bytes: Int?
    @Flag(help: "Print the result as one JSON object.") var json = false

    /// Whether any of these options was given: `glance eval` then measures speed this way.
    var requested: Bool { attentionLength != nil || slide || positions != nil || segment != nil || bytes != nil }

    func validate() throws {
        for (name, value) in [("--attention-length", attentionLength), ("--positions", positions), ("--segment", segment)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1, got \(value)") }
        }
        if let bytes, bytes < 2 { throw ValidationError("--bytes must be at least 2, got \(bytes)") }
        if slide, segment != nil || bytes != nil { throw ValidationError("--segment and --bytes apply to streaming with a memory, not to --slide") }
        if !slide, positions != nil { throw ValidationError("--positions applies to --slide only") }
        if json, !requested { throw ValidationError("--json applies to --slide, --attention-length, --segment or --bytes") }
    }

    /// Evaluates the run of `config` on a split, printing bpc and predicted bytes per second.
    func evaluate(config: String, split: ByteCorpus.Split, output: String?) throws {
        var configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: config))
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [split])
        let text = corpus.bytes(of: split)
        let mode: String, score: LanguageModelScore, model: CharacterLanguageModel
        if slide {
            let window = attentionLength ?? configuration.model.context
            try extendContext(of: &configuration.model, to: window)
            let count = positions ?? 200
            guard text.count - window >= count else {
                throw CorpusError.tooSmall(path: corpus.path(of: split), bytes: text.count, needed: window + count)
            }
            model = try loadTrainedLanguageModel(configuration, config: config, output: output)
            score = model.slidingScore(of: text, window: window, positions: count)
            mode = "slide"
        } else {
            try setMemory(of: &configuration.model, to: attentionLength)
            let length = segment ?? configuration.model.context
            guard length <= configuration.model.context else {
                throw CommandFailure("--segment \(length) exceeds the context \(configuration.model.context) of the run")
            }
            model = try loadTrainedLanguageModel(configuration, config: config, output: output)
            score = model.streamedScore(of: bytes.map { Array(text.prefix($0)) } ?? text, segment: length)
            mode = "memory"
        }
        let length = slide ? (attentionLength ?? configuration.model.context) : configuration.model.memoryLength
        if json {
            print("{\"mode\": \"\(mode)\", \"split\": \"\(split.rawValue)\", \"attention_length\": \(length), \"bpc\": \(score.bitsPerCharacter), "
                  + "\"predictions\": \(score.predictions), \"seconds\": \(score.seconds), \"tokens_per_s\": \(score.predictionsPerSecond)}")
        } else {
            let how = slide ? "a \(length)-byte window recomputed per prediction" : "segments of \(segment ?? configuration.model.context) bytes with memory \(length)"
            print(String(format: "%@ bpc %.4f over %d predictions (%@): %.1f tokens/s", split.rawValue, score.bitsPerCharacter,
                         score.predictions, how, score.predictionsPerSecond))
            printLearnedSpans(of: model.blocks)
        }
    }

    /// A window longer than the trained context needs positions that extend: sinusoidal or none.
    private func extendContext(of model: inout LanguageModelConfiguration, to window: Int) throws {
        guard window > model.context else { return }
        guard model.positions != AbsolutePositions.learned.rawValue else {
            throw CommandFailure("--attention-length \(window) exceeds the context \(model.context) of the run, whose learned positions stop there (sinusoidal or none extend)")
        }
        model.context = window
    }

    /// Streaming needs a memory; `length` replaces a Transformer-XL run's mem_len.
    private func setMemory(of model: inout LanguageModelConfiguration, to length: Int?) throws {
        guard model.memoryLength > 0 else {
            throw CommandFailure("the run has no memory (transformer_xl's mem_len, adaptive_span's cache) to stream with: use --slide")
        }
        guard let length else { return }
        guard var options = model.attention.options as? TransformerXLOptions else {
            throw CommandFailure("--attention-length without --slide sets a transformer_xl run's mem_len; this run's attention is \(model.attention.type)")
        }
        options.memoryLength = length
        model.attention = AttentionConfiguration(options)
    }
}

/// One line per layer that learns spans: its heads' spans in positions.
func printLearnedSpans(of blocks: BlockStack) {
    for (layer, spans) in blocks.learnedSpans.enumerated() {
        if let spans { print("layer \(layer) learned spans (positions, per head): " + spans.map { String(format: "%.1f", $0) }.joined(separator: " ")) }
    }
}
