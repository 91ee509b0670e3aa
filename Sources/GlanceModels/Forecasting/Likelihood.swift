/// The output distribution of a forecaster (the config's `"likelihood"`).
///
/// - gaussian: N(μ, σ²), μ free, σ = softplus + 10⁻³, on values scaled by the window's scale.
/// - student_t: Student's t with location μ, scale σ and ν = 2 + softplus degrees of freedom
///   (ν > 2 keeps the variance finite), on scaled values: heavier tails for spiky series.
/// - negative_binomial: counts y ≥ 0 with mean μ and shape α (variance μ + αμ²), on the raw
///   counts: μ = v·(softplus + 10⁻³) and α = (softplus + 10⁻³)/√v for a window of scale v (DeepAR).
public enum Likelihood: String, CaseIterable, Codable, Sendable {
    case gaussian
    case studentT = "student_t"
    case negativeBinomial = "negative_binomial"

    /// Parameters the head predicts per position.
    public var parameterCount: Int { parameterNames.count }

    /// The parameters, in the order of the head's outputs.
    public var parameterNames: [String] {
        switch self {
        case .gaussian: ["mu", "sigma"]
        case .studentT: ["mu", "sigma", "nu"]
        case .negativeBinomial: ["mu", "alpha"]
        }
    }

    /// Whether the distribution is over values divided by the window's scale (else raw counts).
    public var readsScaledValues: Bool { self != .negativeBinomial }

    /// The smallest value of a positive parameter (σ, μ and α of the negative binomial).
    static let floor: Float = 1e-3
}
