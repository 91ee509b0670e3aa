import GlanceCore
import GlanceTestSupport
import Testing

/// The reversible residual stack: same outputs and gradients as the plain composition,
/// finite-difference gradients, and gradients for weights shared by several layers.
@Suite struct ReversibleTests {
    /// Layers with f(x) = tanh(x·A), g(x) = tanh(x·B) on weights `weights` (two per layer).
    static func layers(_ weights: [Tensor]) -> [ReversibleLayer] {
        stride(from: 0, to: weights.count, by: 2).map { i in
            let (a, b) = (weights[i], weights[i + 1])
            return ReversibleLayer(parameters: [a, b], f: { tanh($0.matmul(a)) }, g: { tanh($0.matmul(b)) })
        }
    }

    @Test("outputs and gradients equal those of the stack that stores its activations", arguments: [1, 6])
    func matchesPlainStack(_ depth: Int) {
        var random = TestRandom(seed: 3)
        let input = random.normal([2, 5, 8])
        let weights = (0..<(2 * depth)).map { _ in random.normal([4, 4], standardDeviation: 0.5) }
        let seed = random.normal([2, 5, 8])
        func run(_ body: (Tensor, [ReversibleLayer]) -> Tensor) -> (Tensor, [Tensor]) {
            let leaves = ([input] + weights).map { $0.requiringGradient() }
            let out = withGradients { body(leaves[0], Self.layers(Array(leaves.dropFirst()))) }
            return (out.detached(), gradients(of: out, seed: seed, withRespectTo: leaves))
        }
        let (reversible, reversibleGradients) = run(reversibleResidualStack)
        let (plain, plainGradients) = run(storedResidualStack)
        #expect(relativeError(reversible, plain) <= 1e-6)
        for (index, (a, b)) in zip(reversibleGradients, plainGradients).enumerated() {
            #expect(relativeError(a, b) <= 1e-5, "gradient \(index): relative error \(relativeError(a, b))")
        }
    }

    @Test("gradients of the input and the weights match finite differences; a weight shared by two layers gets both")
    func finiteDifferences() {
        var random = TestRandom(seed: 5)
        let input = random.normal([3, 6])
        let shared = random.normal([3, 3], standardDeviation: 0.5), other = random.normal([3, 3], standardDeviation: 0.5)
        expectGradientsMatch([input, shared, other]) { t in
            reversibleResidualStack(t[0], layers: Self.layers([t[1], t[2], t[2], t[1]]))
        }
    }
}
