/// The accuracy of forecasts summed over windows and series (Li et al. 2019, §5):
/// the ρ-quantile loss R_ρ = 2 Σ P_ρ(y, ŷ_ρ) / Σ |y| with P_ρ(y, ŷ) = (y − ŷ)(ρ·[y > ŷ] − (1 − ρ)·[y ≤ ŷ]),
/// the mean absolute error and the symmetric MAPE 100 · mean 2|y − ŷ| / (|y| + |ŷ|) of the
/// median (a term whose y and ŷ are both 0 counts 0).
public struct ForecastScore: Sendable, Equatable {
    /// The quantile levels ρ scored.
    public let levels: [Double]
    private var quantileLosses: [Double]
    private var absoluteTruth = 0.0
    private var absoluteError = 0.0
    private var symmetricError = 0.0
    /// Points scored.
    public private(set) var count = 0

    public init(levels: [Double] = [0.5, 0.9]) {
        precondition(levels.contains(0.5), "the median (0.5) gives MAE and sMAPE")
        self.levels = levels
        quantileLosses = levels.map { _ in 0 }
    }

    /// P_ρ(y, ŷ).
    public static func pinball(_ truth: Double, _ forecast: Double, level ρ: Double) -> Double {
        let difference = truth - forecast
        return difference > 0 ? ρ * difference : (ρ - 1) * difference
    }

    /// Adds the points `truth` with their forecasts at each level (`forecasts[k]` for `levels[k]`).
    public mutating func add(truth: [Float], forecasts: [[Float]]) {
        precondition(forecasts.count == levels.count && forecasts.allSatisfy { $0.count == truth.count },
                     "\(forecasts.count) forecasts of \(forecasts.map(\.count)) points for \(levels.count) levels of \(truth.count) points")
        let median = forecasts[levels.firstIndex(of: 0.5)!]
        for i in truth.indices {
            let y = Double(truth[i]), m = Double(median[i])
            for k in levels.indices { quantileLosses[k] += Self.pinball(y, Double(forecasts[k][i]), level: levels[k]) }
            absoluteTruth += Swift.abs(y)
            absoluteError += Swift.abs(y - m)
            let denominator = Swift.abs(y) + Swift.abs(m)
            symmetricError += denominator > 0 ? 2 * Swift.abs(y - m) / denominator : 0
        }
        count += truth.count
    }

    /// R_ρ of the level `level`.
    public func risk(_ level: Double) -> Double {
        guard let k = levels.firstIndex(of: level) else { preconditionFailure("level \(level) is not scored: \(levels)") }
        return absoluteTruth > 0 ? 2 * quantileLosses[k] / absoluteTruth : 0
    }

    public var meanAbsoluteError: Double { count > 0 ? absoluteError / Double(count) : 0 }
    /// In percent.
    public var symmetricMAPE: Double { count > 0 ? 100 * symmetricError / Double(count) : 0 }

    /// The empirical quantile at `level` of `sorted` (ascending; linear between order statistics).
    public static func quantile(_ sorted: [Float], _ level: Double) -> Float {
        precondition(!sorted.isEmpty, "no samples to take a quantile of")
        let position = level * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Swift.min(low + 1, sorted.count - 1)
        let fraction = Float(position - Double(low))
        return sorted[low] + (sorted[high] - sorted[low]) * fraction
    }
}
