import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore

/// `glance bench`: times one attention layer (or a matrix product) and prints medians.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one attention layer: projections, attention and output projection.",
        discussion: """
        Prints medians over --repeat runs after one warm-up. With --json, one JSON object per \
        length with mechanism, length, batch, heads, head_dim, causal, forward_ms, backward_ms \
        (forward + backward, null without --backward), peak_rss_bytes and threads.
        """
    )

    @Option(help: "Attention mechanism: \(AttentionRegistry.names.joined(separator: ", ")).")
    var mechanism = "full"
    @Option(help: "Sequence length(s), comma-separated.")
    var length = "1024"
    @Option(help: "Batch size.") var batch = 1
    @Option(help: "Attention heads.") var heads = 8
    @Option(name: .customLong("head-dim"), help: "Dimensions per head (d_model = heads × head-dim).") var headDim = 64
    @Flag(help: "Causal (autoregressive) masking.") var causal = false
    @Flag(help: "Also time forward + backward.") var backward = false
    @Option(help: "Timed runs per configuration (the median is reported).") var `repeat` = 5
    @Flag(help: "Print JSON lines.") var json = false
    @Flag(help: "Time a square matrix product through Glance and through raw BLAS instead.") var gemm = false
    @Option(help: "Matrix size for --gemm.") var size = 1024
    @Option(help: "Linformer: projected sequence length k (default: min(256, length)).") var k: Int?
    @Option(help: "Linformer: projection sharing: none, headwise (default), key-value, layerwise.") var sharing: String?
    @Flag(help: """
        Instead of timing, print the relative error ‖approx − exact‖/‖exact‖ of the mechanism's \
        attention against exact softmax attention on the same random Q, K ~ N(0, 0.25) and \
        V ~ N(0, 1) ([batch, heads, length, head-dim]), mean over --seeds seeds, with the \
        mechanism's settings.
        """) var fidelity = false
    @Option(help: "--fidelity: number of seeds (0, 1, …) to average over.") var seeds = 3
    @Option(help: "Performer: random features m (default ⌊d·ln d⌋).") var features: Int?
    @Option(help: "Performer: kernel, softmax or relu.") var kernel: String?
    @Option(name: .customLong("qk-kernel"), help: "LogSparse: kernel size of the causal query/key convolutions (default 1).") var qkKernel: Int?
    @Option(name: .customLong("logsparse-window"), help: "LogSparse: local window, earlier positions seen densely (default 0).") var logSparseWindow: Int?
    @Option(name: .customLong("logsparse-subsequence"), help: "LogSparse: restart length (default: no restarts).") var logSparseSubsequence: Int?
    @Option(help: "Reformer: LSH hash rounds (default 1).") var hashes: Int?
    @Option(help: "Reformer: chunk length of the sorted sequence (default 64).") var chunk: Int?
    @Option(help: "Reformer: buckets, an even count or even factors separated by commas (default: Hugging Face's choice for the length).")
    var buckets: String?
    @Option(help: "Longformer: attention window 2w, even (w tokens on each side; Hugging Face's attention_window; default 512).") var window: Int?
    @Option(help: "Longformer: number of global tokens, the first G positions (default 0).") var global: Int?
    @Option(help: "Longformer: dilation, one value or one per head, comma-separated (default 1).") var dilation: String?
    @Option(name: .customLong("model-depth"), help: "Time a whole stack of L blocks (attention + feed-forward) instead of one layer; see --reversible.")
    var modelDepth: Int?
    @Flag(help: "--model-depth: the reversible backward (Reformer), which recomputes activations instead of storing them.")
    var reversible = false
    @Option(name: .customLong("feed-forward-chunk"), help: "--model-depth: feed-forward positions at a time (chunked feed-forward).")
    var feedForwardChunk: Int?
    @Flag(name: .customLong("check-gradients"), help: "--model-depth: also run the stack the other way and report the largest relative gradient difference.")
    var checkGradients = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard heads >= 1 else { throw ValidationError("--heads must be at least 1, got \(heads)") }
        guard headDim >= 1 else { throw ValidationError("--head-dim must be at least 1, got \(headDim)") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1, got \(`repeat`)") }
        guard size >= 1 else { throw ValidationError("--size must be at least 1, got \(size)") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1, got \(seeds)") }
        if let modelDepth, modelDepth < 1 { throw ValidationError("--model-depth must be at least 1, got \(modelDepth)") }
        if let feedForwardChunk, feedForwardChunk < 1 { throw ValidationError("--feed-forward-chunk must be at least 1, got \(feedForwardChunk)") }
        if modelDepth == nil, let flag = [(reversible, "--reversible"), (feedForwardChunk != nil, "--feed-forward-chunk"),
                                          (checkGradients, "--check-gradients")].first(where: \.0)?.1 {
            throw ValidationError("\(flag) applies to a whole stack: add --model-depth L")
        }
        if let features, features < 1 { throw ValidationError("--features must be at least 1, got \(features)") }
        if let kernel, kernel != "softmax" && kernel != "relu" { throw ValidationError("--kernel must be softmax or relu, got '\(kernel)'") }
        if let qkKernel, qkKernel < 1 { throw ValidationError("--qk-kernel must be at least 1, got \(qkKernel)") }
        if let logSparseWindow, logSparseWindow < 0 { throw ValidationError("--logsparse-window must be at least 0, got \(logSparseWindow)") }
        if let logSparseSubsequence, logSparseSubsequence < 1 {
            throw ValidationError("--logsparse-subsequence must be at least 1, got \(logSparseSubsequence)")
        }
        if let hashes, hashes < 1 { throw ValidationError("--hashes must be at least 1, got \(hashes)") }
        if let chunk, chunk < 1 { throw ValidationError("--chunk must be at least 1, got \(chunk)") }
        if let buckets {
            guard let factors = bucketFactors(buckets), (try? LSHBuckets(factors: factors)) != nil else {
                throw ValidationError("--buckets must be even counts of at least 2 separated by commas, got '\(buckets)'")
            }
        }
        guard AttentionRegistry.names.contains(mechanism) else {
            throw ValidationError("unknown --mechanism '\(mechanism)'; known: \(AttentionRegistry.names.joined(separator: ", "))")
        }
        let lengths = try lengths()
        if let k {
            guard k >= 1 else { throw ValidationError("--k must be at least 1, got \(k)") }
            if mechanism == "linformer", let n = lengths.first(where: { $0 < k }) {
                throw ValidationError("--k \(k) exceeds --length \(n): Linformer projects n positions to k ≤ n")
            }
        }
        if let sharing, !LinformerSharing.names.contains(sharing) {
            throw ValidationError("unknown --sharing '\(sharing)'; known: \(LinformerSharing.names.joined(separator: ", "))")
        }
        if mechanism != "longformer", let flag = [(window != nil, "--window"), (dilation != nil, "--dilation")].first(where: \.0)?.1 {
            throw ValidationError("\(flag): only the longformer mechanism has a window and dilation")
        }
        if let window, window < 1 || window % 2 != 0 {
            throw ValidationError("--window must be a positive even number (2w: w tokens on each side), got \(window)")
        }
        if let global {
            guard global >= 0 else { throw ValidationError("--global must be at least 0, got \(global)") }
            if let n = lengths.first(where: { $0 < global }) {
                throw ValidationError("--global \(global) exceeds --length \(n): the global tokens are the first G positions")
            }
            if global > 0 && mechanism != "longformer" { throw ValidationError("--global: only the longformer mechanism has global tokens") }
            if global > 0 && causal { throw ValidationError("--global: global attention is not causal; drop --causal or --global") }
        }
        if let dilation, let values = try dilationValues() {
            guard values.count == 1 || values.count == heads else {
                throw ValidationError("--dilation needs one value or one per head (\(heads)), got '\(dilation)'")
            }
        }
        if causal && mechanism == "linformer" {
            throw ValidationError("--causal: Linformer is not causal (each projected key mixes all positions); drop --causal or use another mechanism")
        }
    }

    /// The mechanism's settings for sequences of length `n`.
    func settings(length n: Int) -> AttentionSettings {
        var settings = AttentionSettings(type: mechanism, modelDimensions: heads * headDim, heads: heads, maximumLength: n)
        settings.features = features
        settings.kernel = kernel
        settings.projectedLength = k
        settings.sharing = sharing
        settings.causal = causal
        settings.queryKeyKernel = qkKernel
        settings.localWindow = logSparseWindow
        settings.subsequenceLength = logSparseSubsequence
        settings.hashes = hashes
        settings.chunkLength = chunk
        settings.buckets = buckets.flatMap(bucketFactors)
        settings.attentionWindow = window
        settings.attentionDilation = try? dilationValues()
        return settings
    }

    /// "4" or "8,16" as integers (nil if not integers).
    func bucketFactors(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.isEmpty || values.contains(nil) ? nil : values.map { $0! }
    }

    /// `--dilation` as integers (nil when not given).
    func dilationValues() throws -> [Int]? {
        guard let dilation else { return nil }
        let values = dilation.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--dilation must be integers of at least 1 separated by commas, got '\(dilation)'")
        }
        return values.map { $0! }
    }

    /// Runs the layer on `input`; the longformer mechanism gets its global tokens (`--global`).
    func apply(_ layer: any AttentionMechanism, _ input: Tensor, mask: AttentionMask) -> Tensor {
        if let longformer = layer as? Longformer, let global, global > 0 {
            let rows = [[Bool]](repeating: (0..<input.shape[1]).map { $0 < global }, count: input.shape[0])
            return longformer.attend(input, context: AttentionContext(mask: mask, globalTokens: rows)).output
        }
        return layer(input, mask: mask)
    }

    func lengths() throws -> [Int] {
        let values = length.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--length must be positive integers separated by commas, got '\(length)'")
        }
        return values.map { $0! }
    }

    func run() throws {
        compute.apply()
        if gemm { return try runGemm() }
        if fidelity { return try runFidelity() }
        if let modelDepth { return try runStack(depth: modelDepth) }
        for n in try lengths() {
            var generator = RandomGenerator(seed: 0)
            let layer = try AttentionRegistry.make(settings(length: n), generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, heads * headDim], generator: &generator)
            let mask = AttentionMask(causal: causal)
            let forward = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { apply(layer, input, mask: mask) } }
            var backwardTime: Double? = nil
            if backward {
                let seed = Tensor.randomNormal(shape: input.shape, generator: &generator)
                let parameters = layer.trainableParameters().map(\.parameter)
                backwardTime = medianMilliseconds(repeats: `repeat`) {
                    _ = inputAndWeightGradients(input: input, seed: seed, parameters: parameters) { apply(layer, $0, mask: mask) }
                }
            }
            var fields: [String: Any] = [
                "mechanism": mechanism, "length": n, "batch": batch, "heads": heads, "head_dim": headDim, "causal": causal || layer.isAlwaysCausal,
                "forward_ms": rounded(forward), "backward_ms": backwardTime.map(rounded) ?? NSNull(),
                "peak_rss_bytes": peakResidentBytes(), "threads": Threading.count,
            ]
            var extra: [String] = []
            if let longformer = layer as? Longformer {
                fields["window"] = longformer.attentionWindow
                fields["global"] = global ?? 0
                extra = ["window", "global"]
                if longformer.dilation.contains(where: { $0 != 1 }) {
                    fields["dilation"] = "\(longformer.dilation.map(String.init).joined(separator: ","))"
                    extra.append("dilation")
                }
            }
            report(fields, order: ["mechanism", "length", "batch", "heads", "head_dim", "causal"] + extra
                   + ["forward_ms", "backward_ms", "peak_rss_bytes", "threads"])
        }
    }

    /// `--fidelity`: the mean approximation error over `seeds` seeds, for each length.
    func runFidelity() throws {
        for n in try lengths() {
            var reported: [String: Int] = [:]
            let errors = try approximationErrors(seeds: (0..<UInt64(seeds)).map { $0 }, batch: batch, heads: heads, length: n, headDimensions: headDim,
                                                   mask: AttentionMask(causal: causal)) { generator in
                let layer = try AttentionRegistry.make(settings(length: n), generator: &generator)
                guard let approximate = layer as? any ApproximateAttention else {
                    throw ValidationError("--fidelity: '\(mechanism)' has no fidelity measure (exact attention, or Reformer, whose shared query-keys have no separate-key counterpart)")
                }
                reported = approximate.approximationSettings
                return approximate
            }
            var fields: [String: Any] = ["mechanism": mechanism, "length": n, "batch": batch, "heads": heads, "head_dim": headDim,
                                         "causal": causal, "fidelity_relative_error": mean(errors),
                                         "standard_error": standardError(errors), "errors": errors, "seeds": seeds]
            for (key, value) in reported { fields[key] = value }
            report(fields, order: ["mechanism", "length", "batch", "heads", "head_dim", "causal"] + reported.keys.sorted()
                   + ["fidelity_relative_error", "standard_error", "errors", "seeds"])
        }
    }

    func runGemm() throws {
        var generator = RandomGenerator(seed: 0)
        let a = Tensor.randomNormal(shape: [size, size], generator: &generator)
        let b = Tensor.randomNormal(shape: [size, size], generator: &generator)
        let flops = 2 * Double(size) * Double(size) * Double(size)
        let glance = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { a.matmul(b) } }
        var c = Tensor.zeros([size, size])
        let raw = BLAS.withLibraryThreads(Threading.count) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        medianMilliseconds(repeats: `repeat`) {
                            BLAS.sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                                       a: pa.baseAddress!, lda: size, b: pb.baseAddress!, ldb: size, c: pc.baseAddress!, ldc: size)
                        }
                    }
                }
            }
        }
        let glanceRate = flops / glance / 1e6, rawRate = flops / raw / 1e6
        report(["size": size, "glance_gflops": rounded(glanceRate), "blas_gflops": rounded(rawRate),
                "ratio": rounded(glanceRate / rawRate), "blas_kernels": BLAS.kernels, "threads": Threading.count],
               order: ["size", "glance_gflops", "blas_gflops", "ratio", "blas_kernels", "threads"])
    }

    func report(_ fields: [String: Any], order: [String]) {
        if json {
            let body = order.map { key -> String in
                let value = fields[key]!
                let text: String
                switch value {
                case let s as String: text = "\"\(s)\""
                case is NSNull: text = "null"
                case let b as Bool: text = b ? "true" : "false"
                default: text = "\(value)"
                }
                return "\"\(key)\": \(text)"
            }
            print("{" + body.joined(separator: ", ") + "}")
        } else {
            print(order.map { "\($0)=\(fields[$0].map { $0 is NSNull ? "-" : "\($0)" } ?? "-")" }.joined(separator: "  "))
        }
    }
}

func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }

func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

/// Standard error of the mean (sample standard deviation / √count); null for one value.
func standardError(_ values: [Double]) -> Any {
    guard values.count > 1 else { return NSNull() }
    let average = mean(values)
    let variance = values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
    return (variance / Double(values.count)).squareRoot()
}

/// Median wall time of `repeats` runs of `body`, in milliseconds, after one warm-up run.
func medianMilliseconds(repeats: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
}

/// Peak resident set size of this process, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
    return usage.ru_maxrss * 1024
    #else
    return usage.ru_maxrss
    #endif
}
