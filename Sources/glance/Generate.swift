import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTraining

/// `glance generate`: samples text from a trained run or a Hugging Face Reformer folder.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample text from a trained character-level model or a Hugging Face Reformer folder.",
        discussion: """
        With --config, the model is the checkpoint of a Glance training run. With --model, it is \
        a Hugging Face ReformerModelWithLMHead folder (config.json with model_type "reformer" and \
        is_decoder true, and model.safetensors), e.g. google/reformer-enwik8. Such a model reads \
        bytes as ids with an offset: token id = byte + --byte-offset. The default offset is \
        vocab_size − 256 when the vocabulary is larger than the 256 bytes (the ids below are \
        special tokens: reformer-enwik8 has vocab_size 258, so byte b is id b + 2), else 0. \
        Only byte ids are sampled. The whole context (up to max_position_embeddings, and the \
        axial position grid) is recomputed for each new byte, with the LSH rotations drawn \
        from hash_seed or a fixed seed (see glance run --help).

        With --config, each layer keeps its keys and values (Performer: its prefix sums; \
        Longformer: its window; LogSparse: its keys, values and convolution inputs) and each new \
        byte costs one position, when every layer's mechanism can decode incrementally (full, \
        Performer, Longformer, LogSparse; not Reformer). Once the text fills the context, the \
        cache restarts from the last half context: later bytes follow windows of context/2 to \
        context bytes instead of the sliding window of exactly context bytes that --no-cache \
        recomputes for every byte.

        A run with a memory (transformer_xl with mem_len, adaptive_span with cache) reads the \
        prompt in segments, then each new byte alone after each layer's memory: a byte costs one \
        position, and the text it follows is the memory (mem_len, or the span's window), \
        carried along however long the text grows.
        """
    )

    @Option(help: "The run's training configuration (JSON).") var config: String?
    @Option(help: "A Hugging Face Reformer model folder (config.json + model.safetensors), instead of --config.") var model: String?
    @Option(name: .customLong("byte-offset"), parsing: .unconditional, help: "With --model: token id of byte 0 (default: vocab_size − 256 if positive, else 0).")
    var byteOffset: Int?
    @Option(help: "Text to continue.") var prompt = ""
    @Option(parsing: .unconditional, help: "Bytes to generate (at most \(Generate.lengthLimit)).") var length = 200
    @Option(parsing: .unconditional, help: "Sampling temperature (0: always the most likely byte).") var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample among the k most likely bytes only.") var topK: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Flag(name: .customLong("no-cache"), help: "With --config: recompute the whole window for every byte instead of caching keys and values or reading after a memory.")
    var noCache = false
    @Option(help: "The run folder, when training overrode the config's output.") var output: String?
    @OptionGroup var compute: ComputeOptions

    /// The most bytes one command generates.
    static let lengthLimit = 10_000_000

    func validate() throws {
        guard (config == nil) != (model == nil) else { throw ValidationError("give either --config (a Glance run) or --model (a Hugging Face Reformer folder)") }
        if model != nil, output != nil { throw ValidationError("--output applies to --config runs only") }
        if config != nil, byteOffset != nil { throw ValidationError("--byte-offset applies to --model only") }
        if model != nil, noCache { throw ValidationError("--no-cache applies to --config runs only (a Reformer is always recomputed)") }
        if let byteOffset, byteOffset < 0 { throw ValidationError("--byte-offset must be at least 0, got \(byteOffset)") }
        guard length >= 1 else { throw ValidationError("--length must be at least 1, got \(length)") }
        guard length <= Self.lengthLimit else { throw ValidationError("--length must be at most \(Self.lengthLimit), got \(length)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be non-negative, got \(temperature)") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
    }

    func run() throws {
        compute.apply()
        if let model {
            try generateWithReformer(folder: URL(fileURLWithPath: model))
        } else if let config {
            try generateWithRun(config: config)
        }
    }

    func generateWithRun(config: String) throws {
        let configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: config))
        let model = try loadTrainedLanguageModel(configuration, config: config, output: output)
        var generator = RandomGenerator(seed: seed)
        let tokens = model.generate(prompt: Array(prompt.utf8).map(Int.init), count: length, temperature: temperature, topK: topK,
                                    caching: !noCache, generator: &generator)
        print(prompt + String(decoding: tokens.map { UInt8(clamping: $0) }, as: UTF8.self))
    }

    func generateWithReformer(folder: URL) throws {
        let type = try PretrainedModelType.of(folder: folder)
        guard type == .reformer else {
            throw CommandFailure("--model \(folder.path) is a \(type.rawValue) model; glance generate --model needs a Reformer language model")
        }
        let bytes = prompt.isEmpty ? [UInt8(ascii: "\n")] : Array(prompt.utf8)
        let reformer = try ReformerLanguageModel.load(folder: folder, bucketLength: bytes.count + length)
        let vocabulary = reformer.configuration.vocabularySize
        guard reformer.configuration.isDecoder else {
            throw CommandFailure("\(folder.path): is_decoder is false, so this is a masked language model; it cannot generate text left to right")
        }
        let offset = byteOffset ?? Swift.max(0, vocabulary - 256)
        guard offset < vocabulary else { throw CommandFailure("--byte-offset \(offset) leaves no byte inside the vocabulary 0..<\(vocabulary)") }
        if let byte = bytes.first(where: { Int($0) + offset >= vocabulary }) {
            throw CommandFailure("--prompt: byte \(byte) is id \(Int(byte) + offset), outside the vocabulary 0..<\(vocabulary) (byte offset \(offset))")
        }
        var generator = RandomGenerator(seed: seed)
        let ids = try reformer.generate(prompt: bytes.map { Int($0) + offset }, count: length, temperature: temperature, topK: topK,
                                        candidates: offset..<Swift.min(offset + 256, vocabulary), generator: &generator)
        print(prompt + String(decoding: ids.map { UInt8($0 - offset) }, as: UTF8.self))
    }
}
