import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// FullAttention under the attention contract: a memory equals attention over
/// [memory; input] cut to the last queries, cross-attention with a padded source equals
/// PyTorch's nn.MultiheadAttention, and a capability it lacks is an error naming both.
@Suite struct ExactAttentionContractTests {
    /// Output and gradients (seeded by `seed`) of the input, the memory and every parameter.
    static func outputAndGradients(_ layer: FullAttention, input: Tensor, memory: Tensor, seed: Tensor,
                                   _ run: (Tensor, Tensor) -> Tensor) -> (output: Tensor, gradients: [Tensor]) {
        let parameters = layer.trainableParameters().map(\.parameter)
        let (x, m) = (input.requiringGradient(), memory.requiringGradient())
        for p in parameters { p.value = p.value.requiringGradient() }
        defer { for p in parameters { p.value = p.value.detached() } }
        let out = withGradients { run(x, m) }
        return (out.detached(), gradients(of: out, seed: seed, withRespectTo: [x, m] + parameters.map(\.value)))
    }

    @Test("a memory of M positions equals attention over [memory; input] restricted to the last n queries",
          arguments: [(true, false), (true, true), (false, true)])
    func memoryEqualsConcatenation(_ causal: Bool, _ padded: Bool) throws {
        let (batch, length, memoryLength, width) = (2, 5, 4, 12)
        let layer = try FullAttentionTests.makeLayer(modelDimensions: width, heads: 3, seed: 11)
        var random = TestRandom(seed: 12)
        let input = random.normal([batch, length, width]), memory = random.normal([batch, memoryLength, width])
        let seed = random.normal([batch, length, width])
        let padding: [[Bool]]? = padded ? [[true, false, true, true, false], [false, true, true, true, true]] : nil
        let withMemory = Self.outputAndGradients(layer, input: input, memory: memory, seed: seed) { x, m in
            layer.attend(x, context: AttentionContext(mask: AttentionMask(causal: causal, keyPadding: padding), memory: m)).output
        }
        let concatenated = Self.outputAndGradients(layer, input: input, memory: memory, seed: seed) { x, m in
            let mask = AttentionMask(causal: causal, keyPadding: padding.map { $0.map { [Bool](repeating: true, count: memoryLength) + $0 } })
            return layer(concatenate([m, x], alongAxis: 1), mask: mask).sliced(alongAxis: 1, memoryLength..<(memoryLength + length))
        }
        #expect(relativeError(withMemory.output, concatenated.output) <= 1e-5)
        let names = ["input", "memory"] + layer.trainableParameters().map(\.key)
        for (name, (actual, expected)) in zip(names, zip(withMemory.gradients, concatenated.gradients)) {
            // The key bias shifts every score of a row alike, so its true gradient is zero: both are rounding noise.
            let error = name == "key.bias" ? Double(maxAbsoluteDifference(actual, expected)) : relativeError(actual, expected)
            #expect(error <= 1e-5, "\(name): error \(error)")
        }
    }

    @Test("cross-attention with a padded source matches torch.nn.MultiheadAttention within 1e-4")
    func crossAttentionParity() throws {
        let f = try ReferenceFixture(named: "cross_attention_padded")
        let width = f.int("dim")
        var generator = RandomGenerator(seed: 0)
        let layer = try FullAttention(modelDimensions: width, heads: f.int("heads"), generator: &generator)
        let (inWeight, inBias) = (f["in_proj_weight"], f["in_proj_bias"])
        var values: [String: Tensor] = ["output.weight": f["out_proj.weight"], "output.bias": f["out_proj.bias"]]
        for (index, name) in ["query", "key", "value"].enumerated() {
            let rows = (index * width)..<((index + 1) * width)
            values[name + ".weight"] = inWeight.sliced(alongAxis: 0, rows)
            values[name + ".bias"] = inBias.sliced(alongAxis: 0, rows)
        }
        try layer.update(parameters: values)
        let mask = f["key_padding_mask"]
        let sourcePadding = (0..<mask.shape[0]).map { b in (0..<mask.shape[1]).map { mask[b, $0] == 0 } }

        let (output, grads) = Self.outputAndGradients(layer, input: f["input"], memory: f["source"], seed: f["output_gradient"]) { x, s in
            layer.attend(x, context: AttentionContext(source: s, sourcePadding: sourcePadding)).output
        }
        #expect(relativeError(output, f["output"]) <= 1e-4, "output: relative error \(relativeError(output, f["output"]))")
        var glance = Dictionary(uniqueKeysWithValues: zip(["input", "source"] + layer.trainableParameters().map(\.key), grads))
        glance["in_proj_weight"] = concatenate(["query", "key", "value"].map { glance[$0 + ".weight"]! }, alongAxis: 0)
        glance["in_proj_bias"] = concatenate(["query", "key", "value"].map { glance[$0 + ".bias"]! }, alongAxis: 0)
        (glance["out_proj.weight"], glance["out_proj.bias"]) = (glance["output.weight"], glance["output.bias"])
        let checked = ["input", "source"] + (f.config["parameters"] as! [String])
        for name in checked {
            let error = relativeError(glance[name]!, f["grad." + name])
            #expect(error <= 1e-4, "grad.\(name): relative error \(error)")
        }
    }

    @Test("padded source positions have no influence on cross-attention; the input's padding does not apply")
    func sourcePadding() throws {
        let layer = try FullAttentionTests.makeLayer(modelDimensions: 8, heads: 2, seed: 21)
        var random = TestRandom(seed: 22)
        let input = random.normal([2, 3, 8]), source = random.normal([2, 6, 8])
        let padding = [[true, true, false, true, true, false], [false, true, true, true, true, true]]
        let context = AttentionContext(source: source, sourcePadding: padding)
        let base = withoutGradients { layer.attend(input, context: context).output }
        var moved = context
        moved.source = source + Tensor(padding.flatMap { row in row.flatMap { [Float](repeating: $0 ? 0 : 3, count: 8) } }, shape: [2, 6, 8])
        moved.mask = AttentionMask(keyPadding: [[false, true, true], [true, true, false]])
        #expect(maxAbsoluteDifference(withoutGradients { layer.attend(input, context: moved).output }, base) <= 1e-5)
        // Without the padding the same change does move the output.
        let unpadded = withoutGradients {
            (layer.attend(input, context: AttentionContext(source: source)).output, layer.attend(input, context: AttentionContext(source: moved.source)).output)
        }
        #expect(maxAbsoluteDifference(unpadded.0, unpadded.1) > 1e-2)
    }

    @Test("full attention serves causal, bidirectional, memory, cross-attention and incremental contexts")
    func capabilities() throws {
        let layer = try FullAttentionTests.makeLayer(modelDimensions: 8, heads: 2, seed: 31)
        #expect(layer.capabilities == [.causal, .bidirectional, .memory, .crossAttention, .incremental])
        let memory = AttentionContext(mask: .causal, memory: randomTensor([1, 2, 8], seed: 32))
        let source = AttentionContext(source: randomTensor([1, 4, 8], seed: 33))
        for context in [memory, source] { try layer.check(context.requiredCapabilities) }
    }

    @Test("asking for a capability full attention lacks throws an error naming both",
          arguments: [(AttentionCapabilities.relativePositions, "relative positions"), (.globalTokens, "global tokens")])
    func missingCapability(_ capability: AttentionCapabilities, _ name: String) throws {
        let layer = try FullAttentionTests.makeLayer(modelDimensions: 8, heads: 2, seed: 41)
        #expect(throws: AttentionCapabilityError(mechanism: "full", capability: name)) { try layer.check([.causal, capability]) }
        let description = AttentionCapabilityError(mechanism: "full", capability: name).description
        #expect(description.contains("full") && description.contains(name))
    }
}
