import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Longformer against Hugging Face transformers 5.24.0 fixtures, its kernel against a dense
/// Double reference (dilation, causal, padding, global keys, edges, several blocks), its limit
/// case (a window wider than the sequence is full attention), finite-difference gradients
/// and configuration errors.
@Suite struct LongformerTests {
    /// Hugging Face `LongformerAttention` parameter name → Glance key.
    static let names = ["self.query": "query", "self.key": "key", "self.value": "value",
                        "self.query_global": "queryGlobal", "self.key_global": "keyGlobal", "self.value_global": "valueGlobal",
                        "output.dense": "output"].flatMap { reference, glance in
        [(reference + ".weight", glance + ".weight"), (reference + ".bias", glance + ".bias")]
    }

    static let fixtures = ["longformer_local", "longformer_global", "longformer_padding", "longformer_odd_length",
                           "longformer_layer_windows", "longformer_wide_window"]

    /// Rows of a [batch, n] 0/1 tensor as booleans.
    static func booleanRows(_ t: Tensor) -> [[Bool]] {
        (0..<t.shape[0]).map { b in (0..<t.shape[1]).map { t[b, $0] > 0.5 } }
    }

    @Test("outputs and gradients match transformers 5.24.0 LongformerSelfAttention within 1e-4", arguments: fixtures)
    func parity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        var generator = RandomGenerator(seed: 0)
        let layer = try Longformer(modelDimensions: f.int("dim"), heads: f.int("heads"), attentionWindow: f.int("attention_window"),
                                   generator: &generator)
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: Self.names.map { ($0.1, f[$0.0]) }))
        let keep = Self.booleanRows(f["attention_mask"])
        let mask = AttentionMask(keyPadding: keep.allSatisfy { !$0.contains(false) } ? nil : keep)
        let global = Self.booleanRows(f["global_attention_mask"])

        let parameters = layer.trainableParameters()
        let x = f["input"].requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let out = withGradients { layer.attend(x, context: AttentionContext(mask: mask, globalTokens: global)).output }
        let grads = gradients(of: out, seed: f["output_gradient"], withRespectTo: [x] + parameters.map(\.parameter.value))
        let outputError = relativeError(out.detached(), f["output"])
        #expect(outputError <= 1e-4, "\(name) output: relative error \(outputError)")
        let inputError = relativeError(grads[0], f["grad.input"])
        #expect(inputError <= 1e-4, "\(name) grad.input: relative error \(inputError)")
        let glanceGradients = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), grads.dropFirst()))
        for (reference, key) in Self.names {
            let expected = f["grad." + reference], actual = glanceGradients[key]!
            // The key biases' gradients are zero in exact arithmetic (a bias adds the same
            // q·b to every score of a row), so they are measured against 1% of their weight's.
            let weightNorm = Self.norm(f["grad." + reference.replacingOccurrences(of: ".bias", with: ".weight")])
            let scale = Swift.max(Self.norm(expected), 0.01 * weightNorm)
            let difference = Self.norm(actual - expected)
            let error = scale == 0 ? difference : difference / scale
            #expect(error <= 1e-4, "\(name) grad.\(reference): relative error \(error)")
        }
        #expect(Set(Self.names.map(\.0)) == Set(f.config["parameters"] as! [String]))
        // Without recording (the inference path) the output is the same.
        let inference = withoutGradients { layer.attend(f["input"], context: AttentionContext(mask: mask, globalTokens: global)).output }
        #expect(relativeError(inference, f["output"]) <= 1e-4)
    }

    static func norm(_ t: Tensor) -> Double { t.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    // MARK: - The kernel against a dense reference

    /// One problem for the kernel: q, k, v [batch, n, heads·depth].
    struct Case: CustomStringConvertible, Sendable {
        var batch = 2
        var length: Int
        var heads = 2
        var depth = 4
        var window: Int
        var dilation: [Int] = [1]
        var causal = false
        var padding: [[Int]] = []
        var globals: [[Int]]? = nil

        var description: String {
            "n\(length) H\(heads) w\(window) δ\(dilation)\(causal ? " causal" : "")\(padding.isEmpty ? "" : " padded")\(globals == nil ? "" : " global \(globals!)")"
        }

        var keep: [[Bool]]? {
            padding.isEmpty ? nil : (0..<batch).map { b in (0..<length).map { !(padding.count > b && padding[b].contains($0)) } }
        }

        func δ(_ h: Int) -> Int { dilation.count == 1 ? dilation[0] : dilation[h] }
        func isGlobal(_ b: Int, _ i: Int) -> Bool { globals?[b].contains(i) ?? false }
        func isKept(_ b: Int, _ i: Int) -> Bool { keep?[b][i] ?? true }

        /// Whether query i (a local, kept token) sees key j in head h.
        func allowed(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Bool {
            guard isKept(b, j) else { return false }
            if isGlobal(b, j) { return true }
            let offset = j - i, d = δ(h)
            guard offset % d == 0 else { return false }
            let c = offset / d
            return c >= -window && c <= (causal ? 0 : window)
        }
    }

    /// Dense softmax attention in Double under `allowed`, skipping padded and global query rows,
    /// with the gradients of Σ out · g.
    static func denseReference(_ c: Case, q: Tensor, k: Tensor, v: Tensor, g: Tensor)
        -> (output: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let (qs, ks, vs, gs) = (q.scalars.map(Double.init), k.scalars.map(Double.init), v.scalars.map(Double.init), g.scalars.map(Double.init))
        let channels = c.heads * c.depth, scale = 1 / Double(c.depth).squareRoot()
        var out = [Double](repeating: 0, count: qs.count), dq = out, dk = out, dv = out
        for b in 0..<c.batch {
            for h in 0..<c.heads {
                func at(_ i: Int, _ d: Int) -> Int { (b * c.length + i) * channels + h * c.depth + d }
                for i in 0..<c.length where c.isKept(b, i) && !c.isGlobal(b, i) {
                    var scores = [Double](repeating: -.infinity, count: c.length)
                    for j in 0..<c.length where c.allowed(b, h, i, j) {
                        scores[j] = scale * (0..<c.depth).reduce(0.0) { $0 + qs[at(i, $1)] * ks[at(j, $1)] }
                    }
                    let peak = scores.max()!
                    let weights = scores.map { $0 == -.infinity ? 0 : Foundation.exp($0 - peak) }
                    let total = weights.reduce(0, +)
                    let p = weights.map { $0 / total }
                    var dp = [Double](repeating: 0, count: c.length)
                    for j in 0..<c.length where p[j] != 0 {
                        for d in 0..<c.depth {
                            out[at(i, d)] += p[j] * vs[at(j, d)]
                            dv[at(j, d)] += p[j] * gs[at(i, d)]
                            dp[j] += gs[at(i, d)] * vs[at(j, d)]
                        }
                    }
                    let inner = zip(p, dp).reduce(0.0) { $0 + $1.0 * $1.1 }
                    for j in 0..<c.length where p[j] != 0 {
                        let ds = scale * p[j] * (dp[j] - inner)
                        for d in 0..<c.depth {
                            dq[at(i, d)] += ds * ks[at(j, d)]
                            dk[at(j, d)] += ds * qs[at(i, d)]
                        }
                    }
                }
            }
        }
        return (out, dq, dk, dv)
    }

    static let kernelCases: [Case] = [
        Case(length: 40, window: 3),
        Case(length: 150, heads: 3, window: 40),  // blocks of 64 rows, bands cut at both edges
        Case(length: 37, window: 5, causal: true),
        Case(length: 9, window: 20),  // window wider than the sequence
        Case(length: 45, heads: 3, window: 4, dilation: [1, 2, 3]),
        Case(length: 50, window: 6, dilation: [3, 2], causal: true),
        Case(length: 30, heads: 2, window: 3, dilation: [7]),  // dilation beyond the window's reach
        Case(length: 33, window: 4, padding: [[0, 5, 6, 32], [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]]),
        Case(length: 40, window: 3, padding: [[], [3, 39]], globals: [[0, 4, 17], [39]]),
        Case(length: 70, heads: 2, window: 8, dilation: [1, 4], padding: [[1]], globals: [[2, 3, 69], []]),
        Case(length: 20, window: 2, causal: true, padding: [[], [0, 1, 2]]),
    ]

    @Test("the kernel equals dense attention under the same pattern, forward and backward", arguments: kernelCases)
    func kernelMatchesDenseReference(_ c: Case) {
        var random = TestRandom(seed: UInt64(c.length * 31 + c.window))
        let shape = [c.batch, c.length, c.heads * c.depth]
        let (q, k, v, g) = (random.normal(shape), random.normal(shape), random.normal(shape), random.normal(shape))
        let expected = Self.denseReference(c, q: q, k: k, v: v, g: g)
        func run(_ t: [Tensor]) -> Tensor {
            slidingWindowAttention(queries: t[0], keys: t[1], values: t[2], heads: c.heads, window: c.window, dilation: c.dilation,
                                   causal: c.causal, keyPadding: c.keep, globalPositions: c.globals)
        }
        let inference = withoutGradients { run([q, k, v]) }
        #expect(relativeError(inference.scalars, expected.output) <= 1e-5, "\(c) inference output")
        let inputs = [q, k, v].map { $0.requiringGradient() }
        let out = withGradients { run(inputs) }
        #expect(relativeError(out.detached().scalars, expected.output) <= 1e-5, "\(c) output")
        let grads = gradients(of: out, seed: g, withRespectTo: inputs)
        #expect(relativeError(grads[0].scalars, expected.dq) <= 1e-5, "\(c) dq")
        #expect(relativeError(grads[1].scalars, expected.dk) <= 1e-5, "\(c) dk")
        #expect(relativeError(grads[2].scalars, expected.dv) <= 1e-5, "\(c) dv")
    }

    @Test("the kernel's gradients match finite differences", arguments: [
        Case(batch: 1, length: 11, window: 2, dilation: [1, 2]),
        Case(batch: 2, length: 9, window: 2, causal: true),
        Case(batch: 2, length: 10, window: 1, padding: [[], [9]], globals: [[0], [4, 5]]),
    ])
    func kernelGradientCheck(_ c: Case) {
        var random = TestRandom(seed: 7)
        let shape = [c.batch, c.length, c.heads * c.depth]
        expectGradientsMatch([random.normal(shape), random.normal(shape), random.normal(shape)], "\(c)") { t in
            slidingWindowAttention(queries: t[0], keys: t[1], values: t[2], heads: c.heads, window: c.window, dilation: c.dilation,
                                   causal: c.causal, keyPadding: c.keep, globalPositions: c.globals)
        }
    }

    // MARK: - The layer

    static func makeLayer(modelDimensions: Int = 8, heads: Int = 2, attentionWindow: Int, dilation: [Int] = [1],
                          globalProjections: Bool = true, seed: UInt64) throws -> Longformer {
        var generator = RandomGenerator(seed: seed)
        let layer = try Longformer(modelDimensions: modelDimensions, heads: heads, attentionWindow: attentionWindow, dilation: dilation,
                                   globalProjections: globalProjections, standardDeviation: 0.4, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        var biases: [String: Tensor] = [:]
        for (key, p) in layer.trainableParameters() where key.hasSuffix("bias") { biases[key] = random.normal(p.shape, standardDeviation: 0.3) }
        try layer.update(parameters: biases, requireAll: false)
        return layer
    }

    @Test("limit case: a window covering the sequence is full attention, bidirectional and causal", arguments: [false, true])
    func fullAttentionLimit(_ causal: Bool) throws {
        let (n, width, heads) = (13, 12, 3)
        let layer = try Self.makeLayer(modelDimensions: width, heads: heads, attentionWindow: 2 * n, globalProjections: !causal, seed: 3)
        var generator = RandomGenerator(seed: 4)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        let own = layer.parameterValues()
        try full.update(parameters: own.filter { !$0.key.contains("Global") })
        let x = randomTensor([2, n, width], seed: 5)
        let padding = [[true, true, true, false, true, true, true, true, true, true, true, true, true],
                       [true, true, true, true, true, true, true, true, true, false, false, false, false]]
        for keyPadding in [nil, padding] {
            let mask = AttentionMask(causal: causal, keyPadding: keyPadding)
            let expected = withoutGradients { full(x, mask: mask) }
            let actual = withoutGradients { layer(x, mask: mask) }
            // Padded queries give zero attention (Hugging Face); compare the real ones.
            for b in 0..<2 {
                for i in 0..<n where keyPadding?[b][i] ?? true {
                    let a = actual.sliced(alongAxis: 0, b..<(b + 1)).sliced(alongAxis: 1, i..<(i + 1))
                    let e = expected.sliced(alongAxis: 0, b..<(b + 1)).sliced(alongAxis: 1, i..<(i + 1))
                    #expect(relativeError(a, e) <= 1e-5, "causal \(causal) padded \(keyPadding != nil) b\(b) i\(i)")
                }
            }
        }
    }

    @Test("a global token attends to every token with its own projections; all tokens attend to it")
    func globalTokenSemantics() throws {
        let layer = try Self.makeLayer(attentionWindow: 2, seed: 11)
        let n = 12
        let x = randomTensor([1, n, 8], seed: 12)
        var global = [[Bool]](repeating: [Bool](repeating: false, count: n), count: 1)
        global[0][6] = true
        let base = withoutGradients { layer.attend(x, context: AttentionContext(mask: .none, globalTokens: global)).output }
        // Changing the last token moves the global token's output (it sees everything) and the
        // first token's (it attends to the global token, whose value does not move) only through
        // the global token's key and value, which are unchanged: so the first token stays put.
        var changed = x
        changed.withUnsafeMutableBufferPointer { for c in 0..<8 { $0[(n - 1) * 8 + c] += 3 } }
        let moved = withoutGradients { layer.attend(changed, context: AttentionContext(mask: .none, globalTokens: global)).output }
        func row(_ t: Tensor, _ i: Int) -> Tensor { t.sliced(alongAxis: 1, i..<(i + 1)) }
        #expect(maxAbsoluteDifference(row(base, 6), row(moved, 6)) > 1e-3)
        #expect(maxAbsoluteDifference(row(base, 0), row(moved, 0)) <= 1e-6)
        // Changing the global token moves a far token (it attends to it), which a purely local
        // layer would not.
        var changedGlobal = x
        changedGlobal.withUnsafeMutableBufferPointer { for c in 0..<8 { $0[6 * 8 + c] += 3 } }
        let withGlobal = withoutGradients { layer.attend(changedGlobal, context: AttentionContext(mask: .none, globalTokens: global)).output }
        #expect(maxAbsoluteDifference(row(base, 0), row(withGlobal, 0)) > 1e-3)
        let localBase = withoutGradients { layer(x, mask: .none) }, localMoved = withoutGradients { layer(changedGlobal, mask: .none) }
        #expect(maxAbsoluteDifference(row(localBase, 0), row(localMoved, 0)) <= 1e-6)
        // An all-false global mask is the local layer.
        let none = [[Bool]](repeating: [Bool](repeating: false, count: n), count: 1)
        #expect(maxAbsoluteDifference(withoutGradients { layer.attend(x, context: AttentionContext(mask: .none, globalTokens: none)).output }, localBase) == 0)
    }

    @Test("gradients of the input and every parameter match finite differences", arguments: [
        (false, false, [1]), (true, false, [1, 2]), (false, true, [1]),
    ])
    func layerGradientCheck(_ causal: Bool, _ withGlobal: Bool, _ dilation: [Int]) throws {
        let layer = try Self.makeLayer(attentionWindow: 4, dilation: dilation, globalProjections: !causal, seed: 21)
        let parameters = layer.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let x = randomTensor([2, 9, 8], seed: 22)
        let mask = AttentionMask(causal: causal, keyPadding: withGlobal ? [[Bool](repeating: true, count: 9), [true, true, true, true, true, true, true, false, false]] : nil)
        let global: [[Bool]]? = withGlobal ? [(0..<9).map { $0 == 0 || $0 == 5 }, (0..<9).map { $0 == 8 || $0 == 3 }] : nil
        let report = checkGradients(at: [x] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer.attend(t[0], context: AttentionContext(mask: mask, globalTokens: global)).output
        }
        #expect(report.passed, "causal \(causal) global \(withGlobal) dilation \(dilation)\n\(report)")
    }

    @Test("bad windows and dilations throw an error naming the field",
          arguments: [(7, [1], "attention_window"), (0, [1], "attention_window"), (-4, [1], "attention_window"),
                      (8, [0], "attention_dilation"), (8, [1, -1], "attention_dilation"), (8, [1, 1, 1], "attention_dilation")])
    func invalidConfiguration(_ window: Int, _ dilation: [Int], _ field: String) {
        var generator = RandomGenerator(seed: 0)
        #expect {
            _ = try Longformer(modelDimensions: 8, heads: 2, attentionWindow: window, dilation: dilation, generator: &generator)
        } throws: { error in
            guard let error = error as? AttentionConfigurationError else { return false }
            return error.field == field && error.description.contains(field)
        }
    }

    @Test("the registry builds 'longformer'; a layer of a causal model has no global projections")
    func registry() throws {
        var generator = RandomGenerator(seed: 0)
        let json = #"{"type": "longformer", "window": 16, "dilation": [1, 2]}"#
        let layer = try #require(try attentionLayer(json, maximumLength: 64, generator: &generator) as? Longformer)
        #expect(layer.oneSidedWindow == 8 && layer.dilation == [1, 2] && layer.hasGlobalProjections)
        #expect(layer.trainableParameters().map(\.key) == ["query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias",
                                                          "queryGlobal.weight", "queryGlobal.bias", "keyGlobal.weight", "keyGlobal.bias",
                                                          "valueGlobal.weight", "valueGlobal.bias", "output.weight", "output.bias"])
        let causal = try #require(try attentionLayer(json, maximumLength: 64, required: .causal, generator: &generator) as? Longformer)
        #expect(!causal.hasGlobalProjections && causal.trainableParameters().count == 8)
        let defaulted = try #require(try attentionLayer(#""longformer""#, maximumLength: 64, generator: &generator) as? Longformer)
        #expect(defaulted.attentionWindow == 512 && defaulted.dilation == [1, 1])
        #expect { _ = try attentionLayer(#"{"type": "longformer", "window": 5}"#, generator: &generator) } throws: {
            ($0 as? AttentionConfigurationError)?.field == "window"
        }
    }
}
