import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct SoftplusTests {
    @Test("softplus equals log(1 + eˣ) without overflow, and its gradient checks")
    func softplusValuesAndGradient() {
        let x = Tensor([-120, -3, -0.5, 0, 0.5, 3, 120])
        let expected = x.scalars.map { Double($0) > 30 ? Double($0) : Foundation.log1p(Foundation.exp(Double($0))) }
        for (value, reference) in zip(softplus(x).scalars, expected) { #expect(Swift.abs(Double(value) - reference) <= 1e-6 * Swift.max(1, reference)) }
        var random = TestRandom(seed: 7)
        expectGradientsMatch([random.uniform([3, 5], in: -4...4)], "softplus") { softplus($0[0]) }
    }
}
