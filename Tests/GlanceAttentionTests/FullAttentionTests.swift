import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The FullAttention layer against the same computation written with primitive GlanceCore
/// ops, its gradients against finite differences, and its configuration errors.
@Suite struct FullAttentionTests {
    /// A layer with random (non-zero) biases, so that every parameter matters.
    static func makeLayer(modelDimensions: Int, heads: Int, seed: UInt64) throws -> FullAttention {
        var generator = RandomGenerator(seed: seed)
        let layer = try FullAttention(modelDimensions: modelDimensions, heads: heads, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        var values = layer.parameterValues()
        for (key, value) in values.sorted(by: { $0.key < $1.key }) where key.hasSuffix(".bias") { values[key] = random.normal(value.shape, standardDeviation: 0.5) }
        try layer.update(parameters: values)
        return layer
    }

    /// Linear → split heads → softmax(QKᵀ/√d + mask)·V → merge → Linear, from primitive ops.
    static func composed(_ layer: FullAttention, _ x: Tensor, mask: AttentionMask) -> Tensor {
        let (batch, length, width) = (x.shape[0], x.shape[1], x.shape[2])
        let heads = layer.heads, depth = width / heads
        func project(_ linear: Linear, _ input: Tensor) -> Tensor {
            input.matmul(linear.weight.value, transposeOther: true) + linear.bias!.value
        }
        func split(_ t: Tensor) -> Tensor { t.reshaped(to: [batch, length, heads, depth]).permuted([0, 2, 1, 3]) }
        let q = split(project(layer.query, x)), k = split(project(layer.key, x)), v = split(project(layer.value, x))
        var additive = [Float](repeating: 0, count: batch * length * length)
        for b in 0..<batch {
            for i in 0..<length {
                for j in 0..<length where (mask.causal && j > i) || mask.keyPadding.map({ !$0[b][j] }) == true {
                    additive[(b * length + i) * length + j] = -.infinity
                }
            }
        }
        let maskTensor = Tensor(additive, shape: [batch, 1, length, length])
        let scores = q.matmul(k, transposeOther: true) * (1 / Float(depth).squareRoot()) + maskTensor
        let attended = scores.softmax(alongAxis: -1).matmul(v)
        let merged = attended.permuted([0, 2, 1, 3]).reshaped(to: [batch, length, width])
        return project(layer.output, merged)
    }

    static let masks: [(String, AttentionMask)] = [
        ("none", .none),
        ("causal", .causal),
        ("padding", AttentionMask(keyPadding: [[true, true, false, true, false, true, true], [true, false, true, true, true, true, false]])),
        ("causal+padding", AttentionMask(causal: true, keyPadding: [[true, true, false, true, false, true, true], [true, true, true, false, true, true, true]])),
    ]

    @Test("output equals the composition of primitive ops", arguments: 0..<4)
    func matchesComposition(_ maskIndex: Int) throws {
        let (name, mask) = Self.masks[maskIndex]
        let layer = try Self.makeLayer(modelDimensions: 12, heads: 3, seed: 1)
        let x = randomTensor([2, 7, 12], seed: 2)
        let actual = withoutGradients { layer(x, mask: mask) }
        let expected = withoutGradients { Self.composed(layer, x, mask: mask) }
        #expect(actual.shape == [2, 7, 12])
        #expect(isClose(actual, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5),
                "\(name): max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("one head and a length of one")
    func degenerateSizes() throws {
        let layer = try Self.makeLayer(modelDimensions: 4, heads: 1, seed: 3)
        let x = randomTensor([3, 1, 4], seed: 4)
        let actual = layer(x, mask: .causal)
        let expected = Self.composed(layer, x, mask: .causal)
        #expect(isClose(actual, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5))
    }

    @Test("gradients of the input and every parameter match finite differences", arguments: 0..<4)
    func gradientCheck(_ maskIndex: Int) throws {
        let (name, mask) = Self.masks[maskIndex]
        let layer = try Self.makeLayer(modelDimensions: 6, heads: 2, seed: 5)
        let parameters = layer.trainableParameters()
        #expect(parameters.map(\.key) == ["query.weight", "query.bias", "key.weight", "key.bias",
                                          "value.weight", "value.bias", "output.weight", "output.bias"])
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let x = randomTensor([2, 7, 6], seed: 6)
        let report = checkGradients(at: [x] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer(t[0], mask: mask)
        }
        #expect(report.passed, "\(name)\n\(report)")
    }

    @Test("invalid heads or d_model throw an error naming the field",
          arguments: [(16, 0, "heads"), (16, -2, "heads"), (10, 3, "d_model"), (0, 2, "d_model"), (-4, 2, "d_model")])
    func invalidConfiguration(_ modelDimensions: Int, _ heads: Int, _ field: String) {
        var generator = RandomGenerator(seed: 0)
        #expect {
            _ = try FullAttention(modelDimensions: modelDimensions, heads: heads, generator: &generator)
        } throws: { error in
            guard let error = error as? AttentionConfigurationError else { return false }
            return error.field == field && error.description.contains(field)
        }
    }

    @Test("the registry builds 'full' and rejects an unknown name")
    func registry() throws {
        var generator = RandomGenerator(seed: 0)
        #expect(AttentionRegistry.names.contains("full"))
        let layer = try attentionLayer(#""full""#, maximumLength: 16, generator: &generator)
        #expect(layer is FullAttention && layer.modelDimensions == 8 && layer.heads == 2)
        #expect {
            _ = try attentionLayer(#"{"type": "nope"}"#, maximumLength: 16, generator: &generator)
        } throws: { error in
            guard let error = error as? AttentionConfigurationError else { return false }
            return error.field == "type" && error.reason.contains("nope") && error.reason.contains("full")
        }
        // Invalid sizes reach the mechanism's own checks through the registry.
        #expect(throws: AttentionConfigurationError.self) {
            _ = try attentionLayer(#""full""#, modelDimensions: 9, maximumLength: 16, generator: &generator)
        }
    }

    @Test("the same seed builds the same layer")
    func deterministicInit() throws {
        var g1 = RandomGenerator(seed: 9), g2 = RandomGenerator(seed: 9)
        let a = try FullAttention(modelDimensions: 8, heads: 2, generator: &g1)
        let b = try FullAttention(modelDimensions: 8, heads: 2, generator: &g2)
        for (key, value) in a.parameterValues() { #expect(value.scalars == b.parameterValues()[key]!.scalars, "\(key)") }
    }

    @Test("split and merge heads are inverse")
    func splitMerge() {
        let x = randomTensor([2, 5, 12], seed: 7)
        let split = x.splittingHeads(3)
        #expect(split.shape == [2, 3, 5, 4])
        #expect(split[1, 2, 3, 1] == x[1, 3, 2 * 4 + 1])
        #expect(split.mergingHeads().scalars == x.scalars)
    }
}
