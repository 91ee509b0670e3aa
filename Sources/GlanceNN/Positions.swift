import Foundation
import GlanceCore

/// Fixed sinusoidal position encodings (Vaswani et al.): sin on even, cos on odd features.
public func sinusoidalPositions(count: Int, dimensions: Int, base: Float = 10_000) -> Tensor {
    Tensor(shape: [count, dimensions]) { out in
        for position in 0..<count {
            for i in stride(from: 0, to: dimensions, by: 2) {
                let angle = Double(position) / pow(Double(base), Double(i) / Double(dimensions))
                out[position * dimensions + i] = Float(sin(angle))
                if i + 1 < dimensions { out[position * dimensions + i + 1] = Float(cos(angle)) }
            }
        }
    }
}

/// Learned absolute position embeddings for up to `maximumLength` positions.
public final class LearnedPositions: Module {
    public let weight: Parameter

    public init(maximumLength: Int, dimensions: Int, standardDeviation: Float = 0.02, generator: inout RandomGenerator) {
        weight = Parameter(.randomNormal(shape: [maximumLength, dimensions], standardDeviation: standardDeviation, generator: &generator))
        super.init()
    }

    public var maximumLength: Int { weight.shape[0] }

    /// Embeddings of positions 0..<count, shape [count, dimensions].
    public func callAsFunction(count: Int) -> Tensor {
        precondition(count <= maximumLength, "sequence of \(count) exceeds the \(maximumLength) learned positions")
        return weight.value.sliced(alongAxis: 0, 0..<count)
    }
}
