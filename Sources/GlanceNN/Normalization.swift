import GlanceCore

/// Layer normalization over the last axis with a learned scale and shift.
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Parameter?
    public let bias: Parameter?
    public let epsilon: Float

    public init(dimensions: Int, epsilon: Float = 1e-5, affine: Bool = true) {
        weight = affine ? Parameter(.ones([dimensions])) : nil
        bias = affine ? Parameter(.zeros([dimensions])) : nil
        self.epsilon = epsilon
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        input.layerNormalized(weight: weight?.value, bias: bias?.value, epsilon: epsilon)
    }
}
