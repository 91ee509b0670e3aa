import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// LogSparse attention: the pattern's index set, the sparse kernel against a dense-masked
/// Double reference, finite-difference gradients, the full-window limit, parity with the
/// dense-masked PyTorch reference (tools/reference/make_logsparse_fixtures.py) and
/// configuration errors.
@Suite struct LogSparseTests {
    /// Whether query i sees key j by the pattern's definition, written independently of
    /// ``LogSparsePattern/keys(forQuery:)``: δ = i − j − r·L is an offset for some restart r.
    static func definitionAllows(_ i: Int, _ j: Int, window w: Int, subsequence: Int?) -> Bool {
        func isOffset(_ delta: Int) -> Bool {
            if delta < 0 { return false }
            if delta <= w { return true }
            let beyond = delta - w
            return beyond & (beyond - 1) == 0 && (subsequence.map { delta <= $0 } ?? true)
        }
        guard j <= i else { return false }
        guard let subsequence else { return isOffset(i - j) }
        return stride(from: 0, through: i - j, by: subsequence).contains { isOffset(i - j - $0) }
    }

    @Test("pattern: the paper's cells, local window, restarts, and the definition for every query")
    func patternKeys() throws {
        #expect(try LogSparsePattern().keys(forQuery: 10) == [2, 6, 8, 9, 10])
        #expect(try LogSparsePattern().keys(forQuery: 0) == [0])
        #expect(try LogSparsePattern().keys(forQuery: 16) == [0, 8, 12, 14, 15, 16])
        #expect(try LogSparsePattern(localWindow: 2).keys(forQuery: 10) == [0, 4, 6, 7, 8, 9, 10])
        #expect(try LogSparsePattern(localWindow: 2, subsequenceLength: 8).keys(forQuery: 30)
                == [0, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 16, 18, 19, 20, 21, 22, 24, 26, 27, 28, 29, 30])
        for (w, subsequence) in [(0, nil), (3, nil), (0, 5), (2, 8), (1, 16), (9, 4), (0, 1)] as [(Int, Int?)] {
            let pattern = try LogSparsePattern(localWindow: w, subsequenceLength: subsequence)
            let index = pattern.index(length: 61)
            for i in 0..<61 {
                let expected = (0...i).filter { Self.definitionAllows(i, $0, window: w, subsequence: subsequence) }
                #expect(index.keys(ofQuery: i) == expected, "w \(w) L \(subsequence ?? 0) query \(i)")
            }
        }
    }

    @Test("index lists grow as n log n: at most w + 2 + log₂ n keys per query without restarts")
    func indexSize() throws {
        for n in [1, 1000, 4096, 5000] {
            let index = try LogSparsePattern(localWindow: 3).index(length: n)
            let bound = 3 + 2 + Int(Foundation.log2(Double(n)))
            #expect(index.longestRow <= bound && index.entryCount <= n * bound, "n \(n): \(index.entryCount) entries, row \(index.longestRow)")
        }
    }

    /// Attention sizes with the pattern as the dense reference's mask.
    static func patternCase(batch: Int = 1, heads: Int = 1, length: Int, depth: Int = 4, valueDepth: Int = 4,
                            pattern: LogSparsePattern, padded: Bool = false, seed: UInt64 = 0) -> AttentionCase {
        let (w, subsequence) = (pattern.localWindow, pattern.subsequenceLength)
        return AttentionCase(batch: batch, heads: heads, queries: length, keys: length, depth: depth, valueDepth: valueDepth,
                             causal: true, keyPadding: padded ? randomPadding(batch: batch, keys: length, seed: seed) : nil,
                             allowed: { i, j in definitionAllows(i, j, window: w, subsequence: subsequence) })
    }

    static let kernelCases: [(length: Int, window: Int, subsequence: Int?, padded: Bool)] = [
        (1, 0, nil, false), (2, 0, nil, false), (17, 0, nil, false), (33, 2, nil, true), (64, 1, 8, false), (45, 3, 7, true), (300, 0, nil, true),
    ]

    @Test("sparse kernel equals dense-masked attention in Double, outputs and gradients", arguments: kernelCases)
    func kernelMatchesDenseReference(_ setting: (length: Int, window: Int, subsequence: Int?, padded: Bool)) throws {
        let pattern = try LogSparsePattern(localWindow: setting.window, subsequenceLength: setting.subsequence)
        let c = Self.patternCase(batch: 2, heads: 3, length: setting.length, depth: 5, valueDepth: 3, pattern: pattern,
                                 padded: setting.padded, seed: UInt64(setting.length))
        let (q, k, v) = c.inputs(seed: UInt64(setting.length) &+ 7)
        let index = pattern.index(length: setting.length)
        let (out, grads) = withGradients { () -> (Tensor, [Tensor]) in
            let (qg, kg, vg) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
            let out = sparseAttention(queries: qg, keys: kg, values: vg, index: index, keyPadding: c.keyPadding)
            var random = TestRandom(seed: 99)
            let seed = random.normal(out.shape)
            return (out, gradients(of: out, seed: seed, withRespectTo: [qg, kg, vg]))
        }
        var random = TestRandom(seed: 99)
        let g = random.normal(out.shape)
        let expected = referenceAttention(c, q: q, k: k, v: v)
        let (dq, dk, dv) = referenceAttentionGradients(c, q: q, k: k, v: v, outputGradient: g)
        #expect(relativeError(out.scalars, expected.output) <= 1e-5, "\(c) output")
        #expect(relativeError(grads[0].scalars, dq) <= 1e-5, "\(c) dq")
        #expect(relativeError(grads[1].scalars, dk) <= 1e-5, "\(c) dk")
        #expect(relativeError(grads[2].scalars, dv) <= 1e-5, "\(c) dv")
        // Without recording, the same output.
        let inference = withoutGradients { sparseAttention(queries: q, keys: k, values: v, index: index, keyPadding: c.keyPadding) }
        #expect(maxAbsoluteDifference(inference, out.detached()) == 0)
        // The projections' layout [B, n, H·D] gives the same numbers, merged.
        let (merged, mergedGrads) = withGradients { () -> (Tensor, [Tensor]) in
            let (qm, km, vm) = (q.mergingHeads().requiringGradient(), k.mergingHeads().requiringGradient(), v.mergingHeads().requiringGradient())
            let out = sparseAttention(queries: qm, keys: km, values: vm, heads: c.heads, index: index, keyPadding: c.keyPadding)
            return (out, gradients(of: out, seed: g.mergingHeads(), withRespectTo: [qm, km, vm]))
        }
        #expect(maxAbsoluteDifference(merged.detached(), out.detached().mergingHeads()) == 0)
        for (a, b) in zip(mergedGrads, grads) { #expect(maxAbsoluteDifference(a, b.mergingHeads()) == 0) }
    }

    @Test("a query whose keys are all padding gets zeros and passes no gradient")
    func emptyRows() throws {
        let index = try LogSparsePattern().index(length: 5)
        var random = TestRandom(seed: 3)
        let (q, k, v) = (random.normal([1, 1, 5, 4]), random.normal([1, 1, 5, 4]), random.normal([1, 1, 5, 4]))
        // Query 1 sees keys 0 and 1 only, both padded.
        let out = withoutGradients { sparseAttention(queries: q, keys: k, values: v, index: index, keyPadding: [[false, false, true, true, true]]) }
        #expect((0..<4).allSatisfy { out[0, 0, 1, $0] == 0 && out[0, 0, 0, $0] == 0 })
        #expect((0..<4).contains { out[0, 0, 2, $0] != 0 })
    }

    @Test("kernel gradients match finite differences", arguments: [false, true])
    func kernelGradientCheck(_ padded: Bool) throws {
        let index = try LogSparsePattern(localWindow: 1, subsequenceLength: 4).index(length: 11)
        var random = TestRandom(seed: 5)
        let points = [random.normal([2, 2, 11, 3]), random.normal([2, 2, 11, 3]), random.normal([2, 2, 11, 2])]
        let padding = padded ? randomPadding(batch: 2, keys: 11, seed: 6) : nil
        let report = checkGradients(at: points) { t in
            sparseAttention(queries: t[0], keys: t[1], values: t[2], index: index, keyPadding: padding, scale: 0.7)
        }
        #expect(report.passed, "\(report)")
    }

    /// A layer with non-zero biases (the init's are zero), so that their gradients are tested.
    static func makeLayer(modelDimensions: Int = 6, heads: Int = 2, kernel: Int = 3, pattern: LogSparsePattern, seed: UInt64) throws -> LogSparseAttention {
        var generator = RandomGenerator(seed: seed)
        let layer = try LogSparseAttention(modelDimensions: modelDimensions, heads: heads, queryKeyKernel: kernel, pattern: pattern,
                                           generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        var biases: [String: Tensor] = [:]
        for name in ["query", "key", "value", "output"] { biases[name + ".bias"] = random.normal([modelDimensions], standardDeviation: 0.5) }
        try layer.update(parameters: biases, requireAll: false)
        return layer
    }

    @Test("module gradients (input and every parameter) match finite differences",
          arguments: [(1, 0, nil, false), (3, 1, 4, true), (2, 0, nil, true)] as [(Int, Int, Int?, Bool)])
    func moduleGradientCheck(_ kernel: Int, _ window: Int, _ subsequence: Int?, _ padded: Bool) throws {
        let layer = try Self.makeLayer(kernel: kernel, pattern: LogSparsePattern(localWindow: window, subsequenceLength: subsequence), seed: 31)
        let parameters = layer.trainableParameters()
        #expect(parameters.map(\.key) == ["query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias",
                                          "output.weight", "output.bias"])
        #expect(layer.query.weight.shape == [6, 6, kernel])
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let mask = AttentionMask(causal: true, keyPadding: padded ? [[true, true, false, true, true, true, true, true, true],
                                                                     [true, true, true, true, true, true, false, false, false]] : nil)
        let report = checkGradients(at: [randomTensor([2, 9, 6], seed: 32)] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer(t[0], mask: mask)
        }
        #expect(report.passed, "K \(kernel) w \(window) L \(subsequence ?? 0) padded \(padded)\n\(report)")
    }

    @Test("outputs at position t do not depend on inputs after t")
    func causality() throws {
        let layer = try Self.makeLayer(modelDimensions: 8, heads: 2, kernel: 3, pattern: LogSparsePattern(localWindow: 1, subsequenceLength: 5), seed: 41)
        let x = randomTensor([1, 20, 8], seed: 42)
        var changed = x
        changed.withUnsafeMutableBufferPointer { buffer in for i in (12 * 8)..<(20 * 8) { buffer[i] += 3 } }
        let (a, b) = withoutGradients { (layer(x, mask: .none), layer(changed, mask: .none)) }
        #expect(maxAbsoluteDifference(a.sliced(alongAxis: 1, 0..<12), b.sliced(alongAxis: 1, 0..<12)) == 0)
        #expect(maxAbsoluteDifference(a.sliced(alongAxis: 1, 12..<20), b.sliced(alongAxis: 1, 12..<20)) > 1e-3)
    }

    @Test("limit: kernel 1 with a pattern that covers every earlier key is causal full attention",
          arguments: [(20, nil, false), (0, 1, false), (20, nil, true)] as [(Int, Int?, Bool)])
    func fullAttentionLimit(_ window: Int, _ subsequence: Int?, _ padded: Bool) throws {
        let (n, width, heads) = (19, 12, 3)
        let layer = try Self.makeLayer(modelDimensions: width, heads: heads, kernel: 1,
                                       pattern: LogSparsePattern(localWindow: window, subsequenceLength: subsequence), seed: 51)
        #expect(layer.index(length: n).entryCount == n * (n + 1) / 2)
        var generator = RandomGenerator(seed: 52)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        var values = layer.parameterValues()
        for name in ["query", "key"] { values[name + ".weight"] = values[name + ".weight"]!.reshaped(to: [width, width]) }
        try full.update(parameters: values)
        let x = randomTensor([2, n, width], seed: 53)
        let mask = AttentionMask(causal: true, keyPadding: padded ? randomPadding(batch: 2, keys: n, seed: 54) : nil)
        let expected = withoutGradients { full(x, mask: mask) }
        let actual = withoutGradients { layer(x, mask: mask) }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("outputs and gradients match the dense-masked PyTorch reference within 1e-4",
          arguments: ["logsparse_pure", "logsparse_window_restart", "logsparse_kernel1_random_padding"])
    func parity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        var generator = RandomGenerator(seed: 0)
        let pattern = try LogSparsePattern(localWindow: f.int("local_window"), subsequenceLength: f.config["subsequence"] as? Int)
        let layer = try LogSparseAttention(modelDimensions: f.int("d_model"), heads: f.int("heads"), queryKeyKernel: f.int("qk_kernel"),
                                           pattern: pattern, generator: &generator)
        let names = f.config["parameters"] as! [String]
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: names.map { ($0, f[$0]) }))
        #expect(layer.index(length: f.int("length")).entryCount == f.int("pattern_entries"))
        let padding = f.tensors["key_padding_mask"].map { mask in
            (0..<mask.shape[0]).map { b in (0..<mask.shape[1]).map { mask[b, $0] != 0 } }
        }
        let parameters = layer.trainableParameters()
        let x = f["input"].requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let out = withGradients { layer(x, mask: AttentionMask(causal: true, keyPadding: padding)) }
        let grads = gradients(of: out, seed: f["output_gradient"], withRespectTo: [x] + parameters.map(\.parameter.value))
        var errors = ["output": relativeError(out.detached(), f["output"]), "grad.input": relativeError(grads[0], f["grad.input"])]
        for (p, gradient) in zip(parameters, grads.dropFirst()) {
            let expected = f["grad." + p.key]
            if p.key == "key.bias" {
                // The key bias adds q_i·b to every score of row i: softmax ignores it, and its
                // gradient is zero up to rounding on both sides. Compare against the scale of
                // the key weight's gradient instead.
                let scale = f["grad.key.weight"].scalars.reduce(0) { Swift.max($0, Swift.abs($1)) }
                errors["grad.key.bias"] = Double(maxAbsoluteDifference(gradient, expected) / scale)
            } else {
                errors["grad." + p.key] = relativeError(gradient, expected)
            }
        }
        #expect(errors.count == names.count + 2)
        for (key, error) in errors.sorted(by: { $0.key < $1.key }) { #expect(error <= 1e-4, "\(name) \(key): relative error \(error)") }
    }

    @Test("bad configurations throw an error naming the field")
    func invalidConfiguration() throws {
        expectOptionError("qk_kernel", #"{"type": "logsparse", "qk_kernel": 0}"#)
        expectOptionError("qk_kernel", #"{"type": "logsparse", "qk_kernel": -2}"#)
        expectOptionError("window", #"{"type": "logsparse", "window": -1}"#)
        expectOptionError("subsequence", #"{"type": "logsparse", "subsequence": 0}"#)
        expectOptionError("heads", #""logsparse""#, heads: 0)
        expectOptionError("d_model", #""logsparse""#, modelDimensions: 7)
    }

    @Test("the registry builds 'logsparse' with its settings; the index lists are cached per length")
    func registry() throws {
        #expect(AttentionRegistry.names.contains("logsparse"))
        var generator = RandomGenerator(seed: 0)
        let layer = try #require(try attentionLayer(#"{"type": "logsparse", "qk_kernel": 4, "window": 2, "subsequence": 16}"#,
                                                    generator: &generator) as? LogSparseAttention)
        let expectedPattern = try LogSparsePattern(localWindow: 2, subsequenceLength: 16)
        #expect(layer.queryKeyKernel == 4 && layer.pattern == expectedPattern)
        let defaulted = try #require(try attentionLayer(#""logsparse""#, generator: &generator) as? LogSparseAttention)
        let defaultPattern = try LogSparsePattern()
        #expect(defaulted.queryKeyKernel == 1 && defaulted.pattern == defaultPattern)
        #expect(layer.index(length: 30) === layer.index(length: 30))
        #expect(layer.index(length: 31).length == 31)
    }
}
