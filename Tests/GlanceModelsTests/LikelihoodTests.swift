import Foundation
import GlanceCore
@testable import GlanceModels
import GlanceTestSupport
import Testing

@Suite struct LikelihoodTests {
    /// The NLL of single values under one distribution.
    static func nll(_ likelihood: Likelihood, _ parameters: [Float], _ y: Float) -> Double {
        Double(likelihood.negativeLogLikelihood(parameters: parameters.map { Tensor([$0]) }, targets: Tensor([y])).item())
    }

    @Test("negative log-likelihoods equal closed forms")
    func closedForms() {
        // Standard normal at 0 and at 2 with σ = 2 (z = 1).
        #expect(Swift.abs(Self.nll(.gaussian, [0, 1], 0) - 0.918_938_533_2) < 1e-6)
        #expect(Swift.abs(Self.nll(.gaussian, [1, 2], 3) - (0.918_938_533_2 + Foundation.log(2.0) + 0.5)) < 1e-6)
        // Student-t with ν = 1 is Cauchy: −log p = log(πσ(1 + z²)).
        #expect(Swift.abs(Self.nll(.studentT, [1, 2, 1], 4) - Foundation.log(Double.pi * 2 * (1 + 1.5 * 1.5))) < 1e-5)
        // Large ν approaches the normal.
        #expect(Swift.abs(Self.nll(.studentT, [0, 1, 1e5], 1) - Self.nll(.gaussian, [0, 1], 1)) < 1e-4)
        // Negative binomial with α = 0.5 (r = 2): P(y) = (y + 1) p² (1 − p)^y, p = 1/(1 + αμ); α = 1 is geometric.
        for y in 0..<6 {
            let mu = 3.0, p2 = 1 / (1 + 0.5 * mu), p1 = 1 / (1 + mu)
            let two = -Foundation.log(Double(y + 1) * p2 * p2 * Foundation.pow(1 - p2, Double(y)))
            let one = -Foundation.log(p1 * Foundation.pow(1 - p1, Double(y)))
            #expect(Swift.abs(Self.nll(.negativeBinomial, [3, 0.5], Float(y)) - two) < 1e-5, "y = \(y)")
            #expect(Swift.abs(Self.nll(.negativeBinomial, [3, 1], Float(y)) - one) < 1e-5, "y = \(y)")
        }
        // The mean over elements.
        let mean = Likelihood.gaussian.negativeLogLikelihood(parameters: [Tensor([0, 1]), Tensor([1, 1])], targets: Tensor([0, 1])).item()
        #expect(Swift.abs(Double(mean) - 0.918_938_533_2) < 1e-6)
    }

    @Test("digamma matches known values")
    func digammaValues() {
        let gamma = 0.577_215_664_901_532_9
        #expect(Swift.abs(digamma(1) + gamma) < 1e-10)
        #expect(Swift.abs(digamma(0.5) + gamma + 2 * Foundation.log(2.0)) < 1e-10)
        #expect(Swift.abs(digamma(10) - 2.251_752_589_066_721) < 1e-10)
    }

    @Test("the fused NLL's gradients match finite differences", arguments: Likelihood.allCases)
    func gradients(_ likelihood: Likelihood) {
        var random = TestRandom(seed: 11)
        let shape = [2, 3]
        let parameters: [Tensor] = switch likelihood {
        case .gaussian: [random.uniform(shape, in: -1...1), random.uniform(shape, in: 0.6...2)]
        case .studentT: [random.uniform(shape, in: -1...1), random.uniform(shape, in: 0.6...2), random.uniform(shape, in: 2...6)]
        case .negativeBinomial: [random.uniform(shape, in: 1...5), random.uniform(shape, in: 0.3...1.5)]
        }
        let targets = likelihood == .negativeBinomial ? Tensor([0, 1, 2, 3, 5, 8], shape: shape) : random.normal(shape)
        expectGradientsMatch(parameters, "\(likelihood)") { likelihood.negativeLogLikelihood(parameters: $0, targets: targets) }
    }

    @Test("the head's parameters are valid and its loss's gradients match finite differences", arguments: Likelihood.allCases)
    func head(_ likelihood: Likelihood) {
        var generator = RandomGenerator(seed: 3)
        let head = LikelihoodHead(dimensions: 4, likelihood: likelihood, standardDeviation: 0.5, generator: &generator)
        var random = TestRandom(seed: 5)
        let hidden = random.normal([2, 3, 4]), scales: [Float] = [1.5, 4]
        let parameters = head.parameters(hidden, scales: scales)
        #expect(parameters.count == likelihood.parameterCount && parameters.allSatisfy { $0.shape == [2, 3] })
        for k in 1..<parameters.count { #expect(parameters[k].scalars.allSatisfy { $0 > 0 }) }
        let targets = likelihood == .negativeBinomial ? Tensor([0, 2, 1, 7, 3, 4], shape: [2, 3]) : random.normal([2, 3])
        expectGradientsMatch([hidden], "\(likelihood) head") { likelihood.negativeLogLikelihood(parameters: head.parameters($0[0], scales: scales), targets: targets) }
    }

    @Test("samples follow the distributions' moments", arguments: Likelihood.allCases)
    func sampling(_ likelihood: Likelihood) {
        var generator = RandomGenerator(seed: 21)
        let parameters: [Float] = switch likelihood {
        case .gaussian: [2, 0.5]
        case .studentT: [2, 0.5, 5]
        case .negativeBinomial: [40, 0.2]
        }
        let draws = (0..<20_000).map { _ in Double(likelihood.sample(parameters, generator: &generator)) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
        let expectedVariance: Double = switch likelihood {
        case .gaussian: 0.25
        case .studentT: 0.25 * 5 / 3
        case .negativeBinomial: 40 + 0.2 * 1600
        }
        #expect(Swift.abs(mean - Double(parameters[0])) < 0.05 * Swift.max(1, Double(parameters[0])), "\(likelihood) mean \(mean)")
        #expect(Swift.abs(variance / expectedVariance - 1) < 0.1, "\(likelihood) variance \(variance) vs \(expectedVariance)")
        if likelihood == .negativeBinomial { #expect(draws.allSatisfy { $0 >= 0 && $0 == $0.rounded() }) }
    }
}
