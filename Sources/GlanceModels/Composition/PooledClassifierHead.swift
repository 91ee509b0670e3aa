import GlanceCore
import GlanceNN

/// Final LayerNorm, mean over the real (unpadded) positions, linear to the classes: class
/// logits from an encoder's hidden states.
public final class PooledClassifierHead: Module {
    public let norm: LayerNorm
    public let classifier: Linear

    /// Draws the classifier's weights N(0, `standardDeviation`) from `generator`.
    public init(dimensions: Int, classes: Int, standardDeviation: Float, generator: inout RandomGenerator) {
        norm = LayerNorm(dimensions: dimensions)
        classifier = Linear(dimensions, classes, standardDeviation: standardDeviation, generator: &generator)
        super.init()
    }

    public var classCount: Int { classifier.outputCount }

    /// Class logits [batch, classes] for hidden states [batch, length, width]. `keyPadding[b][i]`
    /// is `true` for a real position (nil: nothing is padded); each row needs one.
    public func callAsFunction(_ x: Tensor, keyPadding: [[Bool]]?) -> Tensor {
        precondition(x.shape.count == 3, "hidden states must be [batch, length, width], got \(x.shape)")
        let weights = poolingWeights(batch: x.shape[0], length: x.shape[1], keyPadding: keyPadding)
        return classifier((norm(x) * weights).sum(alongAxis: 1))
    }

    /// [batch, length, 1]: 1/(real positions of the row) at real positions, 0 at padding.
    private func poolingWeights(batch: Int, length: Int, keyPadding: [[Bool]]?) -> Tensor {
        guard let keyPadding else { return Tensor(shape: [batch, length, 1], repeating: 1 / Float(length)) }
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == length },
                     "key padding must be [\(batch)][\(length)]")
        var weights = [Float](repeating: 0, count: batch * length)
        for (row, real) in keyPadding.enumerated() {
            let count = real.reduce(0) { $0 + ($1 ? 1 : 0) }
            precondition(count > 0, "row \(row) of the batch has no real position")
            for i in 0..<length where real[i] { weights[row * length + i] = 1 / Float(count) }
        }
        return Tensor(weights, shape: [batch, length, 1])
    }
}
