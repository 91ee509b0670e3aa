import Foundation
import GlanceCore

extension Likelihood {
    /// One draw from the distribution with parameters `p` (``parameterNames``, natural units).
    public func sample(_ p: [Float], generator: inout RandomGenerator) -> Float {
        switch self {
        case .gaussian:
            return p[0] + p[1] * generator.nextNormal()
        case .studentT:
            // t = N / √(χ²_ν / ν), χ²_ν = 2 · Gamma(ν/2).
            let chiSquare = 2 * gammaSample(shape: Double(p[2]) / 2, generator: &generator)
            return p[0] + p[1] * Float(Double(generator.nextNormal()) / (chiSquare / Double(p[2])).squareRoot())
        case .negativeBinomial:
            // A Poisson count whose rate is Gamma(1/α, scale αμ): mean μ, variance μ + αμ².
            let shape = 1 / Double(p[1])
            let rate = gammaSample(shape: shape, generator: &generator) * Double(p[1]) * Double(p[0])
            return Float(poissonSample(mean: rate, generator: &generator))
        }
    }
}

/// A draw from Gamma(shape, 1) by Marsaglia and Tsang's squeeze (shape < 1 through
/// Gamma(shape + 1) · U^(1/shape)).
func gammaSample(shape: Double, generator: inout RandomGenerator) -> Double {
    precondition(shape > 0, "a gamma distribution needs a positive shape, got \(shape)")
    if shape < 1 {
        let u = Swift.max(Double(generator.nextUniform()), 1e-12)
        return gammaSample(shape: shape + 1, generator: &generator) * Foundation.pow(u, 1 / shape)
    }
    let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
    while true {
        let x = Double(generator.nextNormal()), v = (1 + c * x) * (1 + c * x) * (1 + c * x)
        guard v > 0 else { continue }
        let u = Swift.max(Double(generator.nextUniform()), 1e-12)
        if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return d * v }
    }
}

/// A Poisson count of the given mean: products of uniforms below a mean of 30, the normal
/// approximation (rounded, at least 0) above it.
func poissonSample(mean: Double, generator: inout RandomGenerator) -> Int {
    guard mean >= 30 else {
        let limit = Foundation.exp(-mean)
        var count = 0, product = Double(generator.nextUniform())
        while product > limit {
            count += 1
            product *= Double(generator.nextUniform())
        }
        return count
    }
    return Swift.max(0, Int((mean + mean.squareRoot() * Double(generator.nextNormal())).rounded()))
}
