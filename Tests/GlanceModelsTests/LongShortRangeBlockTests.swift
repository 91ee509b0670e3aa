import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Lite Transformer's LSRA encoder layer against tools/reference/lsra_reference.py (outputs
/// and gradients ≤ 1e-4), its causal form decoded step by step, and the "lsra" options in a config.
@Suite struct LongShortRangeBlockTests {
    /// The fixture's layer as a Glance block, with the reference's weights.
    static func block(_ name: String) throws -> (TransformerBlock, [String: Tensor], [String: Any]) {
        let tensors = try ReferenceFixtures.tensors(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ReferenceFixtures.folder.appendingPathComponent("\(name).json")))
        let c = json as! [String: Any]
        var options = LongShortRangeOptions()
        options.attentionDimensions = c["attention_dims"] as? Int
        options.attentionHeads = c["attention_heads"] as? Int
        options.convolution = ConvolutionKind(rawValue: c["conv"] as! String)!
        options.kernelSize = .all(c["kernel_size"] as! Int)
        options.convolutionHeads = c["conv_heads"] as? Int
        options.glu = c["glu"] as! Bool
        options.convolutionBias = c["conv_bias"] as! Bool
        var generator = RandomGenerator(seed: 1)
        let block = try TransformerBlock.longShortRange(modelDimensions: c["d"] as! Int, heads: 2, options: options, maximumLength: 16,
                                                        source: RandomSource(seed: 2), generator: &generator)
        block.eval()
        try block.update(parameters: glanceWeights(tensors, attentionDimensions: c["attention_dims"] as! Int))
        return (block, tensors, c)
    }

    /// The reference's weights under Glance's keys (nn.MultiheadAttention's packed input
    /// projection split into query, key and value).
    static func glanceWeights(_ t: [String: Tensor], attentionDimensions d: Int) -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        for (index, name) in ["query", "key", "value"].enumerated() {
            weights["attention.attention.\(name).weight"] = t["attention.in_proj_weight"]!.sliced(alongAxis: 0, (index * d)..<((index + 1) * d))
            weights["attention.attention.\(name).bias"] = t["attention.in_proj_bias"]!.sliced(alongAxis: 0, (index * d)..<((index + 1) * d))
        }
        let renamed = ["attention.out_proj.weight": "attention.attention.output.weight", "attention.out_proj.bias": "attention.attention.output.bias",
                       "attention_norm.weight": "attentionNorm.weight", "attention_norm.bias": "attentionNorm.bias",
                       "feed_forward_norm.weight": "feedForwardNorm.weight", "feed_forward_norm.bias": "feedForwardNorm.bias",
                       "fc1.weight": "feedForward.input.weight", "fc1.bias": "feedForward.input.bias",
                       "fc2.weight": "feedForward.output.weight", "fc2.bias": "feedForward.output.bias",
                       "convolution_branch.convolution.kernel_projection.weight": "attention.convolutionBranch.convolution.kernelProjection.weight"]
        for (key, value) in t where !key.hasPrefix("grad.") && key.contains(".") && key != "attention.in_proj_weight" && key != "attention.in_proj_bias" {
            weights[renamed[key] ?? key.replacingOccurrences(of: "convolution_branch.", with: "attention.convolutionBranch.")] = value
        }
        return weights
    }

    static func keyPadding(_ t: [String: Tensor]) -> [[Bool]]? {
        guard let real = t["real"] else { return nil }
        return (0..<real.shape[0]).map { b in (0..<real.shape[1]).map { real[b, $0] != 0 } }
    }

    @Test("the LSRA layer matches the PyTorch reference: outputs and gradients ≤ 1e-4",
          arguments: ["lsra_layer_lightweight_padded", "lsra_layer_dynamic_padded", "lsra_layer_dynamic_causal"])
    func referenceParity(_ name: String) throws {
        let (block, t, c) = try Self.block(name)
        let context = AttentionContext(mask: AttentionMask(causal: c["causal"] as! Bool, keyPadding: Self.keyPadding(t)))
        let input = t["input"]!.requiringGradient()
        let (_, gradients) = valueAndGradient(model: block) { block in (block.forward(input, context: context).output * t["output_gradient"]!).sum() }
        let output = withoutGradients { block.forward(t["input"]!, context: context).output }
        #expect(relativeError(output, t["output"]!) <= 1e-4, "output: relative error \(relativeError(output, t["output"]!))")
        let inputGradient = input.takeGradient()!
        #expect(relativeError(inputGradient, t["grad.input"]!) <= 1e-4, "input gradient: \(relativeError(inputGradient, t["grad.input"]!))")
        let expected = Self.glanceWeights(Dictionary(uniqueKeysWithValues: t.filter { $0.key.hasPrefix("grad.") && $0.key != "grad.input" }
            .map { (String($0.key.dropFirst(5)), $0.value) }), attentionDimensions: c["attention_dims"] as! Int)
        #expect(Set(expected.keys) == Set(gradients.keys))
        for (key, reference) in expected.sorted(by: { $0.key < $1.key }) {
            // The key bias's gradient is zero in exact arithmetic (softmax ignores a shift shared by
            // every key): both sides hold rounding noise, compared in absolute terms.
            let gradient = try #require(gradients[key], "no gradient for \(key)")
            let error = relativeError(gradient, reference)
            #expect(error <= 1e-4 || maxAbsoluteDifference(gradient, reference) <= 1e-6, "gradient of \(key): relative error \(error)")
        }
    }

    @Test("the causal layer fed through its cache in pieces equals the full causal pass (≤ 1e-5)")
    func incrementalEqualsFull() throws {
        let (block, t, _) = try Self.block("lsra_layer_dynamic_causal")
        let caches = try [block.attention.makeCache(batch: 2)]
        let pieces = [0..<1, 1..<3, 3..<4, 4..<6]
        let outputs = withoutGradients {
            pieces.map { block.forward(t["input"]!.sliced(alongAxis: 1, $0), context: AttentionContext(mask: .causal, cache: caches[0])).output }
        }
        let incremental = concatenate(outputs, alongAxis: 1)
        #expect(relativeError(incremental, t["output"]!) <= 1e-4)
        let full = withoutGradients { block.forward(t["input"]!, context: AttentionContext(mask: .causal)).output }
        #expect(isClose(incremental, full, relativeTolerance: 1e-5, absoluteTolerance: 1e-5), "max difference \(maxAbsoluteDifference(incremental, full))")
    }

    @Test("Lite Transformer's decoder layer (causal LSRA, cross-attention, flattened feed-forward) matches the reference: outputs and gradients ≤ 1e-4")
    func decoderLayerParity() throws {
        let t = try ReferenceFixtures.tensors("lsra_decoder_layer")
        var options = LongShortRangeOptions()
        (options.convolution, options.kernelSize, options.convolutionHeads) = (.dynamic, .all(4), 2)
        var generator = RandomGenerator(seed: 1)
        let build = AttentionBuild(required: [.causal, .incremental])
        build.randomSource = RandomSource(seed: 2)
        let selfAttention = try AttentionConfiguration(options).make(shape: AttentionShape(modelDimensions: 16, heads: 2, maximumLength: 16),
                                                                      build: build, generator: &generator)
        let block = DecoderBlock(selfAttention: selfAttention, crossAttention: try FullAttention(modelDimensions: 16, heads: 2, generator: &generator),
                                 feedForward: FeedForward(dimensions: 16, hiddenDimensions: 16, activation: .relu, generator: &generator),
                                 dropout: 0, source: RandomSource(seed: 3), normalization: .postLN)
        block.eval()
        try block.update(parameters: Self.decoderWeights(t))
        let memoryPadding = (0..<2).map { b in (0..<5).map { t["memory_real"]![b, $0] != 0 } }
        let input = t["input"]!.requiringGradient(), memory = t["memory"]!.requiringGradient()
        let (_, gradients) = valueAndGradient(model: block) { block in
            (block.forward(input, source: EncodedSource(states: memory, padding: memoryPadding)) * t["output_gradient"]!).sum()
        }
        let output = withoutGradients { block.forward(t["input"]!, source: EncodedSource(states: t["memory"]!, padding: memoryPadding)) }
        #expect(relativeError(output, t["output"]!) <= 1e-4, "output: relative error \(relativeError(output, t["output"]!))")
        for (name, gradient) in [("input", input.takeGradient()!), ("memory", memory.takeGradient()!)] {
            #expect(relativeError(gradient, t["grad.\(name)"]!) <= 1e-4, "\(name) gradient: \(relativeError(gradient, t["grad.\(name)"]!))")
        }
        let expected = Self.decoderWeights(Dictionary(uniqueKeysWithValues: t.filter { $0.key.hasPrefix("grad.") && $0.key.contains("_") }
            .map { (String($0.key.dropFirst(5)), $0.value) }))
        #expect(Set(expected.keys) == Set(gradients.keys))
        for (key, reference) in expected.sorted(by: { $0.key < $1.key }) {
            let gradient = try #require(gradients[key], "no gradient for \(key)")
            let error = relativeError(gradient, reference)
            #expect(error <= 1e-4 || maxAbsoluteDifference(gradient, reference) <= 1e-6, "gradient of \(key): relative error \(error)")
        }
        // Decoded one position at a time, rows reordered after three: the cache follows its rows.
        let cache = block.makeCache(source: EncodedSource(states: t["memory"]!, padding: memoryPadding))
        let steps = withoutGradients { (0..<3).map { block.forward(t["input"]!.sliced(alongAxis: 1, $0..<($0 + 1)), cache: cache) } }
        #expect(relativeError(concatenate(steps, alongAxis: 1), t["output"]!.sliced(alongAxis: 1, 0..<3)) <= 1e-4)
        cache.reorder([1, 1, 0])
        let order = IndexTensor([1, 1, 0])
        let reorderedInput = t["input"]!.gathered(alongAxis: 0, indices: order)
        let later = withoutGradients { (3..<6).map { block.forward(reorderedInput.sliced(alongAxis: 1, $0..<($0 + 1)), cache: cache) } }
        let expectedLater = t["output"]!.gathered(alongAxis: 0, indices: order).sliced(alongAxis: 1, 3..<6)
        #expect(relativeError(concatenate(later, alongAxis: 1), expectedLater) <= 1e-4)
    }

    /// The decoder fixture's weights under ``DecoderBlock``'s keys: the LSRA part as the encoder
    /// layer's (``glanceWeights(_:attentionDimensions:)``), the cross-attention's packed projection split.
    static func decoderWeights(_ t: [String: Tensor]) -> [String: Tensor] {
        let selfLayer = Dictionary(uniqueKeysWithValues: t.filter { $0.key.hasPrefix("self_layer.") }.map { (String($0.key.dropFirst(11)), $0.value) })
        var weights: [String: Tensor] = [:]
        for (key, value) in glanceWeights(selfLayer, attentionDimensions: 8) {
            let renamed = key.hasPrefix("attentionNorm.") ? "selfAttentionNorm." + key.dropFirst(14)
                : key.hasPrefix("attention.") ? "selfAttention." + key.dropFirst(10) : Substring(key)
            weights[String(renamed)] = value
        }
        for (index, name) in ["query", "key", "value"].enumerated() {
            weights["crossAttention.\(name).weight"] = t["cross_attention.in_proj_weight"]!.sliced(alongAxis: 0, (index * 16)..<((index + 1) * 16))
            weights["crossAttention.\(name).bias"] = t["cross_attention.in_proj_bias"]!.sliced(alongAxis: 0, (index * 16)..<((index + 1) * 16))
        }
        weights["crossAttention.output.weight"] = t["cross_attention.out_proj.weight"]
        weights["crossAttention.output.bias"] = t["cross_attention.out_proj.bias"]
        weights["crossAttentionNorm.weight"] = t["cross_attention_norm.weight"]
        weights["crossAttentionNorm.bias"] = t["cross_attention_norm.bias"]
        return weights
    }

    @Test("\"lsra\" options decode strictly, per-layer kernel sizes and errors name the option")
    func configuration() throws {
        func decode(_ json: String) throws -> AttentionConfiguration { try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8)) }
        let shape = AttentionShape(modelDimensions: 16, heads: 2, maximumLength: 32, layers: 2)
        let c = try decode(#"{"type": "lsra", "convolution": "dynamic", "kernel_size": [3, 5], "attention": {"type": "performer", "features": 8}}"#)
        let options = try #require(c.options as? LongShortRangeOptions)
        #expect(options.kernelSize(layer: 1) == 5 && options.convolution == .dynamic && options.attention.type == "performer")
        try c.validate(for: shape)
        #expect(LongShortRangeOptions().kernelSize(layer: 9) == 31)
        #expect(throws: AttentionConfigurationError.self) { try decode(#"{"type": "lsra", "kernel": 3}"#) }
        #expect(throws: AttentionConfigurationError(field: "convolution", reason: "must be one of lightweight, dynamic, got 'conv'")) {
            try decode(#"{"type": "lsra", "convolution": "conv"}"#)
        }
        for (json, field) in [(#"{"type": "lsra", "kernel_size": [3]}"#, "kernel_size"), (#"{"type": "lsra", "convolution_heads": 3}"#, "convolution_heads"),
                              (#"{"type": "lsra", "attention_dimensions": 16}"#, "attention_dimensions"),
                              (#"{"type": "lsra", "attention": "lsra"}"#, "attention"),
                              (#"{"type": "lsra", "attention": {"type": "linformer", "k": 64}}"#, "attention.k")] {
            #expect(throws: AttentionConfigurationError.self, "\(json)") { try decode(json).validate(for: shape) }
            do { try decode(json).validate(for: shape) } catch let error as AttentionConfigurationError { #expect(error.field == field, "\(json)") }
        }
        let roundTrip = try JSONDecoder().decode(AttentionConfiguration.self, from: JSONEncoder().encode(c))
        #expect(roundTrip == c)
    }
}
