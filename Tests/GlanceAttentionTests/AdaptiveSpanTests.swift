import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing
@testable import GlanceAttention

/// Adaptive Attention Span: the limit of full attention, parity with the dense PyTorch
/// reference (tools/reference/make_adaptive_span_fixtures.py), gradients, the penalty, the
/// clamp, the window and the options.
@Suite struct AdaptiveSpanTests {
    /// A layer with non-zero biases (the init's are zero) and the given span ratios.
    static func makeLayer(modelDimensions: Int = 6, heads: Int = 2, span: Int, ramp: Int, ratios: [Float],
                          lossCoefficient: Float = 0.01, seed: UInt64) throws -> AdaptiveSpanAttention {
        var generator = RandomGenerator(seed: seed)
        let layer = try AdaptiveSpanAttention(modelDimensions: modelDimensions, heads: heads, maximumSpan: span, ramp: ramp,
                                              lossCoefficient: lossCoefficient, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        var values: [String: Tensor] = ["spanRatios": Tensor(ratios)]
        for name in ["query", "key", "value", "output"] { values[name + ".bias"] = random.normal([modelDimensions], standardDeviation: 0.5) }
        try layer.update(parameters: values, requireAll: false)
        return layer
    }

    @Test("limit: span ≥ memory + sequence, z = 1, ramp 1 and zero key positions is causal full attention with the same memory",
          arguments: [0, 6])
    func fullAttentionLimit(_ memoryLength: Int) throws {
        let (n, width, heads) = (11, 12, 3)
        let layer = try Self.makeLayer(modelDimensions: width, heads: heads, span: n + memoryLength, ramp: 1,
                                       ratios: [1, 1, 1], seed: 11)
        try layer.update(parameters: ["keyPositions": .zeros(layer.keyPositions.shape)], requireAll: false)
        #expect(layer.window == n + memoryLength)
        var generator = RandomGenerator(seed: 12)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        let values = layer.parameterValues().filter { !["spanRatios", "keyPositions"].contains($0.key) }
        try full.update(parameters: values)
        let x = randomTensor([2, n, width], seed: 13)
        let memory = memoryLength > 0 ? randomTensor([2, memoryLength, width], seed: 14) : nil
        let context = AttentionContext(mask: .causal, memory: memory)
        let expected = withoutGradients { full.attend(x, context: context).output }
        let actual = withoutGradients { layer.attend(x, context: context).output }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("outputs and gradients (input, memory, weights, z, key positions) match the PyTorch reference within 1e-4",
          arguments: ["adaptive_span_causal", "adaptive_span_memory", "adaptive_span_trim"])
    func parity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        var generator = RandomGenerator(seed: 0)
        let layer = try AdaptiveSpanAttention(modelDimensions: f.int("d_model"), heads: f.int("heads"), maximumSpan: f.int("span"),
                                              ramp: f.int("ramp"), lossCoefficient: Float(f.config["loss_coefficient"] as! Double),
                                              generator: &generator)
        let names = f.config["parameters"] as! [String]
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: names.map { ($0, f[$0]) }))
        #expect(layer.window == f.int("window"))
        let parameters = layer.trainableParameters()
        #expect(Set(parameters.map(\.key)) == Set(names))
        let x = f["input"].requiringGradient()
        let memory = f.tensors["memory"]?.requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let attended = withGradients { layer.attend(x, context: AttentionContext(mask: .causal, memory: memory)) }
        let penalty = try #require(attended.auxiliaryLoss)
        let loss = withGradients { (attended.output * f["output_gradient"]).sum() + penalty }
        let points = [x] + (memory.map { [$0] } ?? []) + parameters.map(\.parameter.value)
        let labels = ["grad.input"] + (memory == nil ? [] : ["grad.memory"]) + parameters.map { "grad." + $0.key }
        let grads = gradients(of: loss, withRespectTo: points)
        // Without recording, the kernel streams keys: the same output.
        let inferred = withoutGradients { layer.attend(f["input"], context: AttentionContext(mask: .causal, memory: f.tensors["memory"])) }
        var errors = ["output": relativeError(attended.output.detached(), f["output"]),
                      "output (not recorded)": relativeError(inferred.output, f["output"]),
                      "penalty": relativeError(penalty.detached().reshaped(to: [1]), f["penalty"])]
        for (label, gradient) in zip(labels, grads) {
            if label == "grad.key.bias" {
                // The key bias adds q_i·b to every score of row i: softmax ignores it, and its
                // gradient is zero up to rounding on both sides. Compare against the scale of
                // the key weight's gradient instead.
                let scale = f["grad.key.weight"].scalars.reduce(0) { Swift.max($0, Swift.abs($1)) }
                errors[label] = Double(maxAbsoluteDifference(gradient, f[label]) / scale)
            } else {
                errors[label] = relativeError(gradient, f[label])
            }
        }
        for (key, error) in errors.sorted(by: { $0.key < $1.key }) { #expect(error <= 1e-4, "\(name) \(key): relative error \(error)") }
    }

    @Test("gradients of input, memory and every parameter (z and key positions included) match finite differences")
    func gradientCheck() throws {
        // z·S = 3.3 and 7.7: away from the mask's kinks at integer distances.
        let layer = try Self.makeLayer(span: 10, ramp: 3, ratios: [0.33, 0.77], seed: 21)
        let parameters = layer.trainableParameters()
        #expect(parameters.map(\.key) == ["query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias",
                                          "output.weight", "output.bias", "spanRatios", "keyPositions"])
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let points = [randomTensor([2, 7, 6], seed: 22), randomTensor([2, 5, 6], seed: 23)] + saved
        let report = checkGradients(at: points) { t in
            for (p, value) in zip(parameters, t.dropFirst(2)) { p.parameter.value = value }
            let attended = layer.attend(t[0], context: AttentionContext(mask: .causal, memory: t[1]))
            return attended.output + attended.auxiliaryLoss!
        }
        #expect(report.passed, "\(report)")
    }

    @Test("the span penalty is coefficient × S × mean(z), its gradient reaches z, and evaluation has none")
    func penalty() throws {
        let layer = try Self.makeLayer(span: 40, ramp: 4, ratios: [0.25, 0.75], lossCoefficient: 0.5, seed: 31)
        let x = randomTensor([1, 5, 6], seed: 32)
        let (value, grads) = valueAndGradient(at: [layer.spanRatios.value]) { t in
            layer.spanRatios.value = t[0]
            return layer.attend(x, context: AttentionContext(mask: .causal)).auxiliaryLoss!
        }
        #expect(isClose(value.item(), 0.5 * 40 * 0.5))
        #expect(isClose(grads[0], Tensor([10, 10])))
        layer.eval()
        #expect(layer.attend(x, context: AttentionContext(mask: .causal)).auxiliaryLoss == nil)
    }

    @Test("afterStep clamps z to [0, 1]; the training step hooks find the layer")
    func clamp() throws {
        let layer = try Self.makeLayer(heads: 3, span: 8, ramp: 2, ratios: [-0.5, 0.4, 1.7], seed: 41)
        #expect(layer.trainingStepHooks().count == 1)
        layer.afterStep(0)
        #expect(layer.spanRatios.value.scalars == [0, 0.4, 1])
        #expect(layer.spans == [0, 3.2, 8])
    }

    @Test("the window follows the largest span, trimmed by multiples of 64 as the authors do, and cuts the memory",
          arguments: [([0, 0], 1024, 32, 64), ([0.1, 0.5], 1024, 32, 576), ([1, 0], 1024, 32, 1024), ([0.2, 0.1], 100, 6, 36),
                      ([0, 0], 64, 32, 64), ([0, 0], 8, 32, 8)] as [([Float], Int, Int, Int)])
    func window(_ ratios: [Float], _ span: Int, _ ramp: Int, _ expected: Int) throws {
        let layer = try Self.makeLayer(span: span, ramp: ramp, ratios: ratios, seed: 51)
        #expect(layer.window == expected)
        // Memory beyond the window changes nothing.
        let x = randomTensor([1, 3, 6], seed: 52), memory = randomTensor([1, expected + 20, 6], seed: 53)
        var changed = memory
        changed.withUnsafeMutableBufferPointer { buffer in for i in 0..<(21 * 6) { buffer[i] += 5 } }
        let (a, b) = withoutGradients {
            (layer.attend(x, context: AttentionContext(mask: .causal, memory: memory)).output,
             layer.attend(x, context: AttentionContext(mask: .causal, memory: changed)).output)
        }
        #expect(maxAbsoluteDifference(a, b) == 0)
    }

    @Test("queries in chunks against the keys their window reaches equal one unchunked call: outputs and gradients")
    func chunkedQueries() throws {
        // Window 36 (z·S = 20 and 10, ramp 6, S = 100); chunks of 40 queries over 130 positions and 50 of memory.
        let layer = try Self.makeLayer(span: 100, ramp: 6, ratios: [0.2, 0.1], seed: 61)
        #expect(layer.window == 36)
        let x = randomTensor([2, 130, 6], seed: 62), memory = randomTensor([2, 50, 6], seed: 63), seed = randomTensor([2, 130, 6], seed: 64)
        let padding = [[Bool](repeating: true, count: 130), (0..<130).map { $0 % 7 != 3 }]
        let parameters = layer.trainableParameters().map(\.parameter)
        func run(chunk: Int) -> [Tensor] {
            layer.queryChunk = chunk
            let (input, mem) = (x.requiringGradient(), memory.requiringGradient())
            for p in parameters { p.value = p.value.requiringGradient() }
            defer { for p in parameters { p.value = p.value.detached() } }
            let out = withGradients { layer.attend(input, context: AttentionContext(mask: AttentionMask(causal: true, keyPadding: padding), memory: mem)).output }
            let grads = gradients(of: (out * seed).sum(), withRespectTo: [input, mem] + parameters.map(\.value))
            return [out.detached()] + grads
        }
        let chunked = run(chunk: 40), whole = run(chunk: .max)
        // The key bias's gradient is zero up to rounding (a per-row constant in the scores), so it is compared absolutely.
        for (a, b) in zip(chunked, whole) { #expect(relativeError(a, b) < 1e-5 || maxAbsoluteDifference(a, b) < 1e-6) }
    }

    @Test("the registry builds 'adaptive_span' with its options; key positions are shared by the layers of a model unless disabled")
    func registry() throws {
        #expect(AttentionRegistry.names.contains("adaptive_span"))
        var generator = RandomGenerator(seed: 0)
        let configuration = try JSONDecoder().decode(
            AttentionConfiguration.self, from: Data(#"{"type": "adaptive_span", "span": 48, "ramp": 8, "init": 0.5, "loss_coefficient": 1e-3}"#.utf8))
        let build = AttentionBuild(required: .causal)
        let layers = try (0..<2).map { layer in
            try #require(try configuration.make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 32, layers: 2, layer: layer),
                                                build: build, generator: &generator) as? AdaptiveSpanAttention)
        }
        #expect(layers[0].maximumSpan == 48 && layers[0].ramp == 8 && layers[0].lossCoefficient == 1e-3)
        #expect(layers[0].spanRatios.value.scalars == [0.5, 0.5] && layers[0].keyPositions.shape == [4, 48])
        #expect(layers[0].keyPositions === layers[1].keyPositions)
        let unshared = try JSONDecoder().decode(AttentionConfiguration.self,
                                                from: Data(#"{"type": "adaptive_span", "shared_key_positions": false}"#.utf8))
        let separate = AttentionBuild(required: .causal)
        let pair = try (0..<2).map { _ in
            try #require(try unshared.make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 32),
                                           build: separate, generator: &generator) as? AdaptiveSpanAttention)
        }
        #expect(pair[0].keyPositions !== pair[1].keyPositions)
        #expect(pair[0].maximumSpan == 32 && pair[0].ramp == 32 && pair[0].lossCoefficient == 2e-6 && pair[0].spanRatios.value.scalars == [0, 0])
        #expect(throws: AttentionCapabilityError(mechanism: "adaptive_span", capability: "bidirectional attention")) { try pair[0].check(.bidirectional) }
    }

    @Test("fixed_span: every span is S, frozen and unpenalised, and the layer equals the learned one at z = 1 (its mask all ones)")
    func fixedSpan() throws {
        let configuration = try JSONDecoder().decode(
            AttentionConfiguration.self, from: Data(#"{"type": "adaptive_span", "span": 20, "ramp": 4, "fixed_span": true}"#.utf8))
        var generator = RandomGenerator(seed: 3)
        let fixed = try #require(try configuration.make(shape: AttentionShape(modelDimensions: 6, heads: 2, maximumLength: 16),
                                                        build: AttentionBuild(required: .causal), generator: &generator) as? AdaptiveSpanAttention)
        #expect(fixed.fixedSpan && fixed.spans == [20, 20] && fixed.window == 20 && fixed.lossCoefficient == 0)
        #expect(try JSONDecoder().decode(AttentionConfiguration.self, from: JSONEncoder().encode(configuration)) == configuration,
                "the options written with a checkpoint read back")
        #expect(!fixed.trainableParameters().map(\.key).contains("spanRatios") && fixed.namedParameters().map(\.key).contains("spanRatios"),
                "z is kept in checkpoints but not trained")
        let learned = try Self.makeLayer(span: 20, ramp: 4, ratios: [1, 1], seed: 31)
        try fixed.update(parameters: learned.parameterValues())
        let x = randomTensor([2, 9, 6], seed: 32)
        let context = AttentionContext(mask: .causal, memory: randomTensor([2, 7, 6], seed: 33))
        let (a, b) = withoutGradients { (fixed.attend(x, context: context), learned.attend(x, context: context)) }
        #expect(a.auxiliaryLoss == nil && b.auxiliaryLoss != nil, "no span penalty")
        #expect(relativeError(a.output, b.output) <= 1e-5, "max difference \(maxAbsoluteDifference(a.output, b.output))")
        fixed.afterStep(0)
        #expect(fixed.spans == [20, 20])
        expectOptionError("init", #"{"type": "adaptive_span", "fixed_span": true, "init": 1}"#)
        expectOptionError("loss_coefficient", #"{"type": "adaptive_span", "fixed_span": true, "loss_coefficient": 0}"#)
    }

    @Test("bad options throw an error naming the option")
    func invalidConfiguration() throws {
        expectOptionError("span", #"{"type": "adaptive_span", "span": 0}"#)
        expectOptionError("ramp", #"{"type": "adaptive_span", "ramp": 0}"#)
        expectOptionError("ramp", #"{"type": "adaptive_span", "ramp": -3}"#)
        expectOptionError("init", #"{"type": "adaptive_span", "init": 1.5}"#)
        expectOptionError("init", #"{"type": "adaptive_span", "init": -0.1}"#)
        expectOptionError("loss_coefficient", #"{"type": "adaptive_span", "loss_coefficient": -1}"#)
        expectOptionError("spans", #"{"type": "adaptive_span", "spans": 3}"#)
        expectOptionError("heads", #""adaptive_span""#, heads: 0)
        expectOptionError("d_model", #""adaptive_span""#, modelDimensions: 7)
    }
}
