import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore

/// `glance bench`: times one attention layer (or a stack, or a matrix product), or measures a
/// mechanism's fidelity, and prints medians. The mechanism's options come from `--option` or
/// `--attention`, decoded and validated by the mechanism's options type, as in a config.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one attention layer: projections, attention and output projection.",
        discussion: """
        Prints medians over --repeat runs after one warm-up: the mechanism with every option and \
        the sizes, then a table with one row per length (forward_ms; forward_backward_ms, forward \
        and backward together, with --backward; gflops and backward_gflops, the rates those times \
        reach by the mechanism's analytic count of matrix-product operations; gemm_gflops, a 1024³ \
        BLAS product measured in the same process; peak_rss_mib, the process's peak resident memory). \
        With --json, one JSON object per length with mechanism, options, length, batch, heads, \
        head_dim, causal, global_tokens, memory, forward_ms, backward_ms (forward + backward, null \
        without --backward), gflops, backward_gflops (null where a mechanism has no count), \
        gemm_gflops, peak_rss_bytes and threads. `glance mechanisms` lists every mechanism's options.
        """
    )

    @Option(help: "Attention mechanism: \(AttentionRegistry.names.joined(separator: ", ")).")
    var mechanism = "full"
    @Option(name: .customLong("option"), parsing: .singleValue,
            help: "An option of the mechanism, NAME=VALUE (VALUE read as JSON: 256, \"relu\" or relu, [8,8]); repeatable.")
    var options: [String] = []
    @Option(help: "The mechanism and its options as a config gives them, a JSON object {\"type\": NAME, OPTION: VALUE, …} (instead of --mechanism and --option).")
    var attention: String?
    @Option(parsing: .unconditional, help: "Sequence length(s), comma-separated.")
    var length = "1024"
    @Option(parsing: .unconditional, help: "Batch size.") var batch = 1
    @Option(parsing: .unconditional, help: "Attention heads.") var heads = 8
    @Option(name: .customLong("head-dim"), parsing: .unconditional, help: "Dimensions per head (d_model = heads × head-dim).") var headDim = 64
    @Flag(help: "Causal (autoregressive) masking.") var causal = false
    @Option(name: .customLong("global-tokens"), help: "Make the first G positions global tokens (mechanisms that support them).")
    var globalTokens = 0
    @Option(parsing: .unconditional, help: "Hidden states of earlier segments every query also sees (mechanisms with a memory: transformer_xl, adaptive_span); no gradient flows into them.")
    var memory = 0
    @Flag(help: "Also time forward + backward.") var backward = false
    @Option(help: "Timed runs per configuration (the median is reported).") var `repeat` = 5
    @Flag(help: "Print JSON lines.") var json = false
    @Flag(help: "Time a square matrix product through Glance and through raw BLAS instead.") var gemm = false
    @Option(help: "Matrix size for --gemm.") var size = 1024
    @Flag(help: """
        Instead of timing, print the relative error ‖approx − exact‖/‖exact‖ of the mechanism's \
        attention against exact softmax attention on the same random Q, K ~ N(0, 0.25) and \
        V ~ N(0, 1) ([batch, heads, length, head-dim]), mean over --seeds seeds, with the \
        mechanism's options.
        """) var fidelity = false
    @Option(help: "--fidelity: number of seeds (0, 1, …) to average over.") var seeds = 3
    @Option(name: .customLong("model-depth"), help: "Time a whole stack of L blocks (attention + feed-forward) instead of one layer; see --reversible.")
    var modelDepth: Int?
    @Flag(help: "--model-depth: the reversible backward, which recomputes activations instead of storing them.")
    var reversible = false
    @Option(name: .customLong("feed-forward-chunk"), help: "--model-depth: feed-forward positions at a time (chunked feed-forward).")
    var feedForwardChunk: Int?
    @Flag(name: .customLong("check-gradients"), help: "--model-depth: also run the stack the other way and report the largest relative gradient difference.")
    var checkGradients = false
    @Option(help: "Time one block of a model instead of one attention layer: conformer (d 256 and 4 heads unless --heads or --head-dim change them; --kernel-size) or lsra (a Lite Transformer encoder layer: LSRA and the flattened feed-forward; --kernel-size); parakeet-ctc: the real-time factor of a random Parakeet-CTC-0.6B-size recogniser on --length seconds of audio (--heads/--head-dim and --model-depth shrink it); translate: sentences/s of a trained translation run (--config, --sentences), beam 4 and greedy, with and without the decoder cache.")
    var model: String?
    @Option(name: .customLong("kernel-size"), help: "--model conformer: the depthwise convolution's kernel (odd); --model lsra: the convolution's kernel unless --option kernel_size gives it.") var kernelSize = 31
    @Option(help: "--model translate: the trained translation run's configuration.") var config: String?
    @Option(help: "--model translate: how many test sentences (the first ones) to translate.") var sentences = 100
    @Option(name: .customLong("run"), help: "--model translate: the run folder, when training overrode the config's output (--output is the suite's results folder).")
    var translationRun: String?
    @OptionGroup var compute: ComputeOptions
    @OptionGroup(title: "Suite") var suite: SuiteOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard heads >= 1 else { throw ValidationError("--heads must be at least 1, got \(heads)") }
        guard headDim >= 1 else { throw ValidationError("--head-dim must be at least 1, got \(headDim)") }
        guard (1...1000).contains(`repeat`) else { throw ValidationError("--repeat must be in 1…1000, got \(`repeat`)") }
        guard size >= 1 else { throw ValidationError("--size must be at least 1, got \(size)") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1, got \(seeds)") }
        for (value, flag) in [(batch, "--batch"), (heads, "--heads"), (headDim, "--head-dim"), (size, "--size"), (modelDepth ?? 1, "--model-depth"),
                              (kernelSize, "--kernel-size")]
        where value > Self.sizeLimit {
            throw ValidationError("\(flag) must be at most \(Self.sizeLimit), got \(value)")
        }
        if let modelDepth, modelDepth < 1 { throw ValidationError("--model-depth must be at least 1, got \(modelDepth)") }
        if let feedForwardChunk, feedForwardChunk < 1 { throw ValidationError("--feed-forward-chunk must be at least 1, got \(feedForwardChunk)") }
        if modelDepth == nil, let flag = [(reversible, "--reversible"), (feedForwardChunk != nil, "--feed-forward-chunk"),
                                          (checkGradients, "--check-gradients")].first(where: \.0)?.1 {
            throw ValidationError("\(flag) applies to a whole stack: add --model-depth L")
        }
        if let model, !Self.models.contains(model) {
            throw ValidationError("--model must be one of \(Self.models.joined(separator: ", ")), got '\(model)'")
        }
        if model == "translate" && config == nil { throw ValidationError("--model translate needs --config, a trained translation run's configuration") }
        if model != "translate", let flag = [(config != nil, "--config"), (translationRun != nil, "--run")].first(where: \.0)?.1 {
            throw ValidationError("\(flag) applies to --model translate")
        }
        guard sentences >= 1 else { throw ValidationError("--sentences must be at least 1, got \(sentences)") }
        let lengths = try lengths()
        guard memory >= 0 && memory <= Self.sizeLimit else { throw ValidationError("--memory must be in 0…\(Self.sizeLimit), got \(memory)") }
        if memory > 0, let flag = [(modelDepth != nil, "--model-depth"), (fidelity, "--fidelity")].first(where: \.0)?.1 {
            throw ValidationError("--memory applies to the timing of one layer, not to \(flag)")
        }
        guard globalTokens >= 0 else { throw ValidationError("--global-tokens must be at least 0, got \(globalTokens)") }
        if let n = lengths.first(where: { $0 < globalTokens }) {
            throw ValidationError("--global-tokens \(globalTokens) exceeds --length \(n): the global tokens are the first G positions")
        }
        if globalTokens > 0, let flag = [(modelDepth != nil, "--model-depth"), (fidelity, "--fidelity")].first(where: \.0)?.1 {
            throw ValidationError("--global-tokens applies to the timing of one layer, not to \(flag)")
        }
        if globalTokens > 0 && causal { throw ValidationError("--global-tokens: global attention is not causal; drop --causal or --global-tokens") }
        try requireMemory(lengths: lengths)
        let attention = try attentionConfiguration()
        for n in lengths {
            do {
                try attention.validate(for: shape(length: n))
            } catch let error as AttentionConfigurationError {
                throw ValidationError("\(optionSource): '\(error.field)' \(error.reason)")
            }
        }
    }

    /// Where the options came from, for errors.
    var optionSource: String { attention == nil ? "--option" : "--attention" }

    /// The mechanism and its options, from `--attention` or from `--mechanism` and `--option`.
    func attentionConfiguration() throws -> AttentionConfiguration {
        let text: Data
        if let attention {
            guard mechanism == "full" && options.isEmpty else {
                throw ValidationError("--attention gives the mechanism and its options: drop --mechanism and --option")
            }
            text = Data(attention.utf8)
        } else {
            var object: [String: Any] = ["type": mechanism]
            for option in options {
                guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                    throw ValidationError("--option must be NAME=VALUE, got '\(option)'")
                }
                let name = String(option[..<equals]), value = String(option[option.index(after: equals)...])
                guard object[name] == nil else { throw ValidationError("--option \(name) is given twice") }
                object[name] = (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)) ?? value
            }
            text = try JSONSerialization.data(withJSONObject: object)
        }
        do {
            return try JSONDecoder().decode(AttentionConfiguration.self, from: text)
        } catch let error as AttentionConfigurationError {
            throw ValidationError(error.field == "type" ? "--mechanism: \(error.reason)" : "\(optionSource): '\(error.field)' \(error.reason)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let name = context.codingPath.last?.stringValue ?? "type"
            throw ValidationError("\(optionSource): '\(name)' has the wrong type (\(context.debugDescription))")
        } catch {
            throw ValidationError("\(optionSource): not a mechanism with options (\(error))")
        }
    }

    /// The layer's sizes for sequences of length `n`.
    func shape(length n: Int) -> AttentionShape {
        AttentionShape(modelDimensions: heads * headDim, heads: heads, maximumLength: n)
    }

    /// What the runs ask of the layer.
    var required: AttentionCapabilities {
        var needed: AttentionCapabilities = causal ? .causal : .bidirectional
        if globalTokens > 0 { needed.insert(.globalTokens) }
        if memory > 0 { needed.insert(.memory) }
        return needed
    }

    /// A layer for sequences of length `n` that serves ``required``; `build` is shared by the
    /// layers of one stack.
    func makeLayer(length n: Int, build: AttentionBuild? = nil, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let layer = try attentionConfiguration().make(shape: shape(length: n), build: build ?? AttentionBuild(required: required),
                                                      generator: &generator)
        do {
            try layer.check(required)
        } catch let error as AttentionCapabilityError {
            throw ValidationError("\(error)")
        }
        return layer
    }

    /// The attention context of the runs: the mask, `--global-tokens` and a random `--memory`.
    func context(batch: Int, length n: Int, generator: inout RandomGenerator) -> AttentionContext {
        let rows = [[Bool]](repeating: (0..<n).map { $0 < globalTokens }, count: batch)
        let states = memory > 0 ? Tensor.randomNormal(shape: [batch, memory, heads * headDim], generator: &generator) : nil
        return AttentionContext(mask: AttentionMask(causal: causal), memory: states, globalTokens: globalTokens > 0 ? rows : nil)
    }

    /// The settings every attention run shares: the mechanism with its options, and the sizes.
    func commonSettings() throws -> [(String, Any)] {
        [("mechanism", try attentionConfiguration()), ("batch", batch), ("heads", heads), ("head_dim", headDim), ("causal", causal),
         ("global_tokens", globalTokens), ("memory", memory)]
    }

    /// The blocks `--model` can time.
    static let models = ["conformer", "lsra", "parakeet-ctc", "translate"]

    /// The largest size any flag accepts (the memory of the run is the caller's to judge).
    static let sizeLimit = 1 << 24

    func lengths() throws -> [Int] { try integerList(length, flag: "--length", minimum: 1, maximum: Self.sizeLimit) }

    func run() throws {
        compute.apply()
        if suite.suite { return try runSuite() }
        if model == "conformer" { return try runConformerBlock() }
        if model == "lsra" { return try runLongShortRangeLayer() }
        if model == "parakeet-ctc" { return try runParakeetRealTime() }
        if model == "translate" { return try runTranslation() }
        if gemm { return try runGemm() }
        if fidelity { return try runFidelity() }
        if let modelDepth { return try runStack(depth: modelDepth) }
        try runLayer()
    }

    /// Prints one measurement: with `--json` one JSON object of the settings and measurements
    /// (an attention configuration as `mechanism` and `options`), else a row of a ``BenchTable``,
    /// after the heading and the column names when it is the `first`.
    func report(settings: [(String, Any)], measurements: [(String, Any)], first: Bool) throws {
        if json {
            var object: [String: Any] = [:]
            for (key, value) in settings + measurements {
                if let configuration = value as? AttentionConfiguration {
                    object[key] = configuration.type
                    object["options"] = configuration.optionsObject
                } else {
                    object[key] = value
                }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            if first { print((BenchTable.heading(settings) + [BenchTable.header(measurements)]).joined(separator: "\n")) }
            print(BenchTable.row(measurements))
        }
        fflush(nil)
    }
}
