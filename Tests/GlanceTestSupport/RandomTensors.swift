import GlanceCore

/// Seeded makers of random test tensors; the same seed always gives the same tensors.
public struct TestRandom {
    public var generator: RandomGenerator

    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// Elements from N(mean, standardDeviation²).
    public mutating func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1) -> Tensor {
        Tensor.randomNormal(shape: shape, mean: mean, standardDeviation: standardDeviation, generator: &generator)
    }

    /// Elements uniform in `range`.
    public mutating func uniform(_ shape: [Int], in range: ClosedRange<Float> = -1...1) -> Tensor {
        Tensor.randomUniform(shape: shape, lower: range.lowerBound, upper: range.upperBound, generator: &generator)
    }

    /// Elements with magnitude uniform in `magnitude` and a random sign: safe for
    /// finite differences of functions with a kink at zero (relu, abs).
    public mutating func awayFromZero(_ shape: [Int], magnitude: ClosedRange<Float> = 0.2...2) -> Tensor {
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in values.indices {
            let m = magnitude.lowerBound + (magnitude.upperBound - magnitude.lowerBound) * generator.nextUniform()
            values[i] = generator.nextUniform() < 0.5 ? -m : m
        }
        return Tensor(values, shape: shape)
    }

    /// Elements that differ pairwise by at least `spacing` (a shuffled, centred ladder plus a
    /// small jitter): safe for finite differences of max and argmax.
    public mutating func distinct(_ shape: [Int], spacing: Float = 0.1) -> Tensor {
        let count = shape.reduce(1, *)
        var values = (0..<count).map { (Float($0) - Float(count) / 2) * spacing * 1.5 }
        values.shuffle(using: &generator)
        for i in values.indices { values[i] += spacing * 0.25 * generator.nextUniform() }
        return Tensor(values, shape: shape)
    }

    /// Integer indices in `0..<bound`.
    public mutating func indices(_ shape: [Int], below bound: Int) -> IndexTensor {
        IndexTensor((0..<shape.reduce(1, *)).map { _ in generator.nextInt(below: bound) }, shape: shape)
    }

    /// Plain integers in `0..<bound`.
    public mutating func integers(_ count: Int, below bound: Int) -> [Int] {
        (0..<count).map { _ in generator.nextInt(below: bound) }
    }
}

/// A N(0, 1) tensor from a fixed seed.
public func randomTensor(_ shape: [Int], seed: UInt64, standardDeviation: Float = 1) -> Tensor {
    var random = TestRandom(seed: seed)
    return random.normal(shape, standardDeviation: standardDeviation)
}

/// A uniform tensor from a fixed seed.
public func randomUniformTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    var random = TestRandom(seed: seed)
    return random.uniform(shape, in: range)
}
