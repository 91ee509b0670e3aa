import Foundation
import GlanceCore

extension Likelihood {
    /// The mean negative log-likelihood of `targets` under the distributions whose parameters
    /// (``parameterNames``, each a tensor of the targets' shape, in natural units: σ > 0, ν > 0,
    /// μ > 0 and α > 0 for counts) are given, as one fused op: closed forms in Double per element,
    /// with the exact gradients (digamma for ν and α).
    public func negativeLogLikelihood(parameters: [Tensor], targets: Tensor) -> Tensor {
        precondition(parameters.count == parameterCount && parameters.allSatisfy { $0.shape == targets.shape },
                     "\(self) needs \(parameterCount) parameter tensors of shape \(targets.shape), got \(parameters.map(\.shape))")
        let n = targets.count
        let y = targets.scalars, values = parameters.map(\.scalars)
        var total = 0.0
        var gradients = [[Float]](repeating: [Float](repeating: 0, count: n), count: parameterCount)
        for i in 0..<n {
            let (loss, derivatives) = elementTerms(y: Double(y[i]), values.map { Double($0[i]) })
            total += loss
            for k in derivatives.indices { gradients[k][i] = Float(derivatives[k] / Double(n)) }
        }
        let shape = targets.shape
        return Tensor(scalar: Float(total / Double(Swift.max(n, 1)))).recorded(from: parameters) { g in
            let scale = g.item()
            return gradients.map { Tensor($0, shape: shape) * scale }
        }
    }

    /// The negative log-likelihood of one value and its derivatives by each parameter.
    func elementTerms(y: Double, _ p: [Double]) -> (Double, [Double]) {
        switch self {
        case .gaussian:
            let (mu, sigma) = (p[0], p[1]), z = (y - mu) / sigma
            let loss: Double = 0.5 * Foundation.log(2 * Double.pi) + Foundation.log(sigma) + 0.5 * z * z
            return (loss, [-z / sigma, 1 / sigma - z * z / sigma])
        case .studentT:
            let (mu, sigma, nu) = (p[0], p[1], p[2]), z = (y - mu) / sigma, ratio = (nu + 1) / (nu + z * z)
            let tail: Double = Foundation.log1p(z * z / nu)
            let normalizer: Double = Foundation.lgamma(nu / 2) - Foundation.lgamma((nu + 1) / 2) + 0.5 * Foundation.log(nu * Double.pi)
            let loss: Double = normalizer + Foundation.log(sigma) + (nu + 1) / 2 * tail
            let dNormalizer: Double = 0.5 * digamma(nu / 2) - 0.5 * digamma((nu + 1) / 2) + 0.5 / nu
            let dNu: Double = dNormalizer + 0.5 * tail - 0.5 * ratio * z * z / nu
            return (loss, [-ratio * z / sigma, 1 / sigma - ratio * z * z / sigma, dNu])
        case .negativeBinomial:
            let (mu, alpha) = (p[0], p[1]), r = 1 / alpha, growth = 1 + alpha * mu
            let logGrowth: Double = Foundation.log(growth)
            let gammas: Double = Foundation.lgamma(y + 1) + Foundation.lgamma(r) - Foundation.lgamma(y + r)
            let loss: Double = gammas + (r + y) * logGrowth - y * Foundation.log(alpha * mu)
            let dMu: Double = (r + y) * alpha / growth - y / mu
            let dGammas: Double = (digamma(y + r) - digamma(r)) * r * r
            let dAlpha: Double = dGammas - r * r * logGrowth + (r + y) * mu / growth - y / alpha
            return (loss, [dMu, dAlpha])
        }
    }
}

/// ψ(x) = d/dx log Γ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 6, then the
/// asymptotic series log x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ).
func digamma(_ x: Double) -> Double {
    precondition(x > 0, "digamma is used for positive arguments, got \(x)")
    var x = x, result = 0.0
    while x < 6 {
        result -= 1 / x
        x += 1
    }
    let inverse = 1 / x, inverse2 = inverse * inverse
    let series = inverse2 * (1.0 / 12 - inverse2 * (1.0 / 120 - inverse2 * (1.0 / 252 - inverse2 * (1.0 / 240 - inverse2 / 132))))
    return result + Foundation.log(x) - 0.5 * inverse - series
}
