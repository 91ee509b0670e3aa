import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Transformer-XL's relative multi-head attention against transformers 4.57.6
/// (`RelPartialLearnableMultiHeadAttn`), its limit case (no memory, u = v = 0, W_R = 0 is
/// causal full attention), finite-difference gradients, the encodings and the options.
@Suite struct TransformerXLTests {
    /// Hugging Face parameter name → Glance key (the LayerNorm is the block's, composed in the test).
    static let names = ["qkv_net.weight": "queryKeyValue.weight", "r_net.weight": "position.weight", "o_net.weight": "output.weight",
                        "r_w_bias": "contentBias", "r_r_bias": "positionBias"]

    @Test("outputs and gradients match transformers 4.57.6 within 1e-4",
          arguments: ["transformer_xl_no_memory", "transformer_xl_memory", "transformer_xl_clamp", "transformer_xl_same_length"])
    func parity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        let clamp = f.int("clamp_len"), memoryLength = f.int("memory")
        var generator = RandomGenerator(seed: 0)
        let layer = try RelativeMultiHeadAttention(modelDimensions: f.int("d_model"), heads: f.int("n_head"), headDimensions: f.int("d_head"),
                                                   clampLength: clamp > 0 ? clamp : nil, sameLength: f.bool("same_length") ? f.int("mem_len") : nil,
                                                   generator: &generator)
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: Self.names.map { ($0.value, f[$0.key]) }))
        let norm = LayerNorm(dimensions: f.int("d_model"))
        try norm.update(parameters: ["weight": f["layer_norm.weight"], "bias": f["layer_norm.bias"]])

        let keys = f.int("length") + memoryLength
        let encodings = transformerXLRelativeEncodings(keys: keys, dimensions: f.int("d_model"), clampLength: clamp > 0 ? clamp : nil)
        #expect(relativeError(encodings.encodings, f["positions"]) <= 1e-5)
        // The layer clamps by itself: give it the unclamped encodings.
        let context = AttentionContext(mask: .causal, memory: memoryLength > 0 ? f["memory"].requiringGradient() : nil,
                                       relativePositions: transformerXLRelativeEncodings(keys: keys, dimensions: f.int("d_model")))
        let parameters = layer.trainableParameters() + norm.trainableParameters().map { (key: "norm." + $0.key, parameter: $0.parameter) }
        let x = f["input"].requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        var attention = Tensor(scalar: 0)
        let out = withGradients {
            attention = layer.attend(x, context: context).output
            return norm(x + attention)
        }
        let leaves = [x] + (context.memory.map { [$0] } ?? []) + parameters.map(\.parameter.value)
        let grads = gradients(of: out, seed: f["output_gradient"], withRespectTo: leaves)
        for (label, actual, expected) in [("output", out.detached(), f["output"]), ("attention_output", attention.detached(), f["attention_output"]),
                                          ("grad.input", grads[0], f["grad.input"])] {
            let error = relativeError(actual, expected)
            #expect(error <= 1e-4, "\(name) \(label): relative error \(error)")
        }
        if memoryLength > 0 {
            let error = relativeError(grads[1], f["grad.memory"])
            #expect(error <= 1e-4, "\(name) grad.memory: relative error \(error)")
        }
        let byKey = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), grads.suffix(parameters.count)))
        let glanceNames = Self.names.merging(["layer_norm.weight": "norm.weight", "layer_norm.bias": "norm.bias"]) { a, _ in a }
        for reference in f.config["parameters"] as! [String] {
            let error = relativeError(byKey[glanceNames[reference]!]!, f["grad." + reference])
            #expect(error <= 1e-4, "\(name) grad.\(reference): relative error \(error)")
        }
    }

    static func makeLayer(modelDimensions: Int = 6, heads: Int = 2, headDimensions: Int? = nil, clampLength: Int? = nil,
                          sameLength: Int? = nil, seed: UInt64) throws -> RelativeMultiHeadAttention {
        var generator = RandomGenerator(seed: seed)
        let layer = try RelativeMultiHeadAttention(modelDimensions: modelDimensions, heads: heads, headDimensions: headDimensions,
                                                   clampLength: clampLength, sameLength: sameLength, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        let width = layer.heads * layer.headDimensions
        try layer.update(parameters: ["contentBias": random.normal([heads, width / heads], standardDeviation: 0.5),
                                      "positionBias": random.normal([heads, width / heads], standardDeviation: 0.5)], requireAll: false)
        return layer
    }

    @Test("limit case: no memory, u = v = 0 and W_R = 0 is causal full attention with the same projections", arguments: [1, 2])
    func fullAttentionLimit(_ batch: Int) throws {
        let (n, width, heads) = (9, 12, 3)
        let layer = try Self.makeLayer(modelDimensions: width, heads: heads, seed: 11)
        try layer.update(parameters: ["contentBias": .zeros([heads, 4]), "positionBias": .zeros([heads, 4]),
                                      "position.weight": .zeros([width, width])], requireAll: false)
        let stacked = layer.queryKeyValue.weight.value
        var generator = RandomGenerator(seed: 12)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        try full.update(parameters: [
            "query.weight": stacked.sliced(alongAxis: 0, 0..<width), "key.weight": stacked.sliced(alongAxis: 0, width..<2 * width),
            "value.weight": stacked.sliced(alongAxis: 0, 2 * width..<3 * width), "output.weight": layer.output.weight.value,
            "query.bias": .zeros([width]), "key.bias": .zeros([width]), "value.bias": .zeros([width]), "output.bias": .zeros([width]),
        ])
        let x = randomTensor([batch, n, width], seed: 13)
        let expected = withoutGradients { full(x, mask: .causal) }
        let actual = withoutGradients { layer(x, mask: .causal) }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("gradients of the input, the memory and every parameter match finite differences",
          arguments: [(0, nil, nil, false), (4, nil, nil, false), (4, 2, nil, false), (3, nil, 4, false), (3, nil, nil, true)] as [(Int, Int?, Int?, Bool)])
    func gradientCheck(_ memoryLength: Int, _ clamp: Int?, _ sameLength: Int?, _ padded: Bool) throws {
        let layer = try Self.makeLayer(modelDimensions: 6, heads: 2, headDimensions: 2, clampLength: clamp, sameLength: sameLength, seed: 31)
        let parameters = layer.trainableParameters()
        #expect(parameters.map(\.key) == ["queryKeyValue.weight", "position.weight", "output.weight", "contentBias", "positionBias"])
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let x = randomTensor([2, 5, 6], seed: 32)
        let memory = randomTensor([2, Swift.max(memoryLength, 1), 6], seed: 33)
        let mask = AttentionMask(causal: true, keyPadding: padded ? [[true, false, true, true, true], [true, true, true, false, false]] : nil)
        let report = checkGradients(at: [x, memory] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst(2)) { p.parameter.value = value }
            let context = AttentionContext(mask: mask, memory: memoryLength > 0 ? t[1] : nil)
            return layer.attend(t[0], context: context).output
        }
        #expect(report.passed, "memory \(memoryLength) clamp \(String(describing: clamp)) same \(String(describing: sameLength)) padded \(padded)\n\(report)")
    }

    @Test("same_length: every query sees the same number of keys; later memory has no influence beyond it")
    func sameLengthWindow() throws {
        let layer = try Self.makeLayer(modelDimensions: 6, heads: 2, sameLength: 3, seed: 41)
        let x = randomTensor([1, 4, 6], seed: 42)
        let memory = randomTensor([1, 5, 6], seed: 43)
        let base = withoutGradients { layer.attend(x, context: AttentionContext(mask: .causal, memory: memory)).output }
        // Query i (position 5 + i) sees positions 3 + i … 5 + i: memory rows 0…2 are never seen.
        let changed = concatenate([randomTensor([1, 3, 6], seed: 44), memory.sliced(alongAxis: 1, 3..<5)], alongAxis: 1)
        let moved = withoutGradients { layer.attend(x, context: AttentionContext(mask: .causal, memory: changed)).output }
        #expect(maxAbsoluteDifference(base, moved) <= 1e-6)
    }

    @Test("the encodings run from distance keys − 1 down to 0 as [sin, cos]; clamping repeats the clamp's row")
    func encodings() {
        let plain = transformerXLRelativeEncodings(keys: 5, dimensions: 4)
        #expect(plain.largestDistance == 4 && plain.smallestDistance == 0 && plain.encodings.shape == [5, 4])
        // Row 0 is distance 4: sin(4), sin(4/100), cos(4), cos(4/100).
        let expected: [Float] = [sin(4), sin(0.04), cos(4), cos(0.04)]
        #expect(isClose(plain.encodings.sliced(alongAxis: 0, 0..<1).scalars, expected))
        #expect(isClose(plain.encodings.sliced(alongAxis: 0, 4..<5).scalars, [0, 0, 1, 1]))
        let clamped = transformerXLRelativeEncodings(keys: 5, dimensions: 4, clampLength: 2)
        for row in 0..<3 { #expect(isClose(clamped.encodings.sliced(alongAxis: 0, row..<row + 1), plain.encodings.sliced(alongAxis: 0, 2..<3))) }
    }

    @Test("the registry builds 'transformer_xl' with its options, which round-trip through JSON; it serves causal attention with memory only")
    func registry() throws {
        var generator = RandomGenerator(seed: 0)
        #expect(AttentionRegistry.names.contains("transformer_xl"))
        let layer = try attentionLayer(#"{"type": "transformer_xl", "clamp_len": 3, "same_length": true, "mem_len": 4}"#,
                                       required: .causal, generator: &generator)
        let xl = try #require(layer as? RelativeMultiHeadAttention)
        #expect(xl.clampLength == 3 && xl.sameLength == 4 && xl.headDimensions == 4)
        let plain = try #require(try attentionLayer(#""transformer_xl""#, required: .causal, generator: &generator) as? RelativeMultiHeadAttention)
        #expect(plain.clampLength == nil && plain.sameLength == nil)
        let options = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(#"{"type": "transformer_xl", "clamp_len": 3, "same_length": true, "mem_len": 4}"#.utf8))
        #expect(try JSONDecoder().decode(AttentionConfiguration.self, from: JSONEncoder().encode(options)) == options)
        try xl.check([.causal, .memory, .relativePositions])
        #expect(throws: AttentionCapabilityError(mechanism: "transformer_xl", capability: "bidirectional attention")) { try xl.check(.bidirectional) }
    }

    @Test("bad options throw an error naming the option", arguments: [
        (#"{"type": "transformer_xl", "clamp_len": -1}"#, "clamp_len"), (#"{"type": "transformer_xl", "mem_len": -2}"#, "mem_len"),
        (#"{"type": "transformer_xl", "same_length": true}"#, "mem_len"),
        (#"{"type": "transformer_xl", "same_length": true, "mem_len": 0}"#, "mem_len"),
    ])
    func invalidOptions(_ json: String, _ option: String) {
        var generator = RandomGenerator(seed: 0)
        #expect { _ = try attentionLayer(json, required: .causal, generator: &generator) } throws: {
            guard let error = $0 as? AttentionConfigurationError else { return false }
            return error.field == option && error.description.contains(option)
        }
    }

    @Test("an odd model width is an error naming d_model (the sinusoidal encodings need an even one)")
    func oddWidth() throws {
        var generator = RandomGenerator(seed: 0)
        _ = try attentionLayer(#""transformer_xl""#, modelDimensions: 6, heads: 3, generator: &generator)
        #expect { _ = try attentionLayer(#""transformer_xl""#, modelDimensions: 9, heads: 3, generator: &generator) } throws: {
            ($0 as? AttentionConfigurationError)?.field == "d_model"
        }
    }
}
