import GlanceCore
import GlanceData
import GlanceNN

/// The forecaster's last part: LayerNorm, then a linear map of the hidden states to the raw
/// parameters of the ``Likelihood``, then the maps that make them valid (softplus for positive
/// parameters, the window's scale for counts).
public final class LikelihoodHead: Module {
    public let norm: LayerNorm
    public let projection: Linear
    public let likelihood: Likelihood

    public init(dimensions: Int, likelihood: Likelihood, standardDeviation: Float, generator: inout RandomGenerator) {
        norm = LayerNorm(dimensions: dimensions)
        projection = Linear(dimensions, likelihood.parameterCount, standardDeviation: standardDeviation, generator: &generator)
        self.likelihood = likelihood
        super.init()
    }

    /// The parameters (``Likelihood/parameterNames``, each [batch, length]) for hidden states
    /// [batch, length, d] of windows whose scales are `scales` [batch].
    public func parameters(_ hidden: Tensor, scales: [Float]) -> [Tensor] {
        let raw = projection(norm(hidden))
        let (batch, length) = (raw.shape[0], raw.shape[1])
        precondition(scales.count == batch, "\(scales.count) scales for a batch of \(batch)")
        func column(_ k: Int) -> Tensor { raw.sliced(alongAxis: 2, k..<(k + 1)).reshaped(to: [batch, length]) }
        func positive(_ k: Int) -> Tensor { softplus(column(k)) + Likelihood.floor }
        switch likelihood {
        case .gaussian: return [column(0), positive(1)]
        case .studentT: return [column(0), positive(1), softplus(column(2)) + 2]
        case .negativeBinomial:
            let scale = Tensor(scales, shape: [batch, 1])
            return [positive(0) * scale, positive(1) / sqrt(scale)]
        }
    }

    /// What the distribution is over for raw values of a window of scale `scale`.
    public func target(_ value: Float, scale: Float) -> Float {
        likelihood.readsScaledValues ? SeriesScaling.scaled(value, by: scale) : value
    }

    /// The raw value of a draw of the distribution for a window of scale `scale`.
    public func value(ofDraw draw: Float, scale: Float) -> Float {
        likelihood.readsScaledValues ? SeriesScaling.unscaled(draw, by: scale) : draw
    }
}
