import GlanceCore

/// A shared, seeded source of randomness for the stochastic layers of one model, so that
/// a run can be saved and resumed with the same random stream.
public final class RandomSource: @unchecked Sendable {
    public var generator: RandomGenerator
    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }
}

/// Inverted dropout, active in training mode only.
public final class Dropout: Module, UnaryLayer {
    public let probability: Float
    private let _source: RandomSource

    public init(probability: Float, source: RandomSource) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        _source = source
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return input }
        return dropout(input, probability: probability, generator: &_source.generator)
    }
}
