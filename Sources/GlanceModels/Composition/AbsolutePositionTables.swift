import GlanceCore
import GlanceNN

extension AbsolutePositions {
    /// The tables an input stage adds for these positions: a trained one (learned, GPT-2's
    /// N(0, 0.02) drawn from `generator`), the fixed sines and cosines, or neither.
    func tables(maximumLength: Int, dimensions: Int, generator: inout RandomGenerator) -> (learned: LearnedPositions?, sinusoids: Tensor?) {
        switch self {
        case .learned:
            (LearnedPositions(maximumLength: maximumLength, dimensions: dimensions, standardDeviation: TransformerBlock.initialStandardDeviation,
                              generator: &generator), nil)
        case .sinusoidal: (nil, sinusoidalPositions(count: maximumLength, dimensions: dimensions))
        case .none: (nil, nil)
        }
    }
}
