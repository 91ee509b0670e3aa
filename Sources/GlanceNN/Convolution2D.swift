import GlanceCore

/// A 2-D convolution layer on [batch, channels, height, width] (PyTorch's `Conv2d` with a
/// square kernel, equal stride and padding on both axes, and groups), computed by GlanceCore's
/// ``conv2d(_:weight:bias:geometry:)`` (unfolded columns through BLAS, one product per group).
/// The weight is [outputs, inputs/groups, K, K], PyTorch's layout.
public final class Convolution2D: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int
    public let groups: Int

    /// Weights and bias from PyTorch's default uniform(−1/√fanIn, 1/√fanIn), fanIn = inputs/groups·K².
    public init(_ inputs: Int, _ outputs: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true,
                generator: inout RandomGenerator) {
        precondition(inputs > 0 && outputs > 0 && kernelSize > 0 && stride >= 1 && padding >= 0 && groups >= 1
                     && inputs % groups == 0 && outputs % groups == 0,
                     "Convolution2D cannot have \(inputs) → \(outputs) channels, kernel \(kernelSize), stride \(stride), padding \(padding), \(groups) groups")
        let fanIn = inputs / groups * kernelSize * kernelSize
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter(.randomUniform(shape: [outputs, inputs / groups, kernelSize, kernelSize], lower: -bound, upper: bound, generator: &generator))
        self.bias = bias ? Parameter(.randomUniform(shape: [outputs], lower: -bound, upper: bound, generator: &generator)) : nil
        (self.stride, self.padding, self.groups) = (stride, padding, groups)
        super.init()
    }

    public var kernelSize: Int { weight.shape[2] }
    public var outputCount: Int { weight.shape[0] }

    /// The output size along an axis of `size` inputs: ⌊(size + 2·padding − K) / stride⌋ + 1.
    public func outputSize(_ size: Int) -> Int { (size + 2 * padding - kernelSize) / stride + 1 }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == weight.shape[1] * groups,
                     "Convolution2D expects [batch, \(weight.shape[1] * groups), height, width], got \(input.shape)")
        let geometry = Convolution2DGeometry(stride: (stride, stride), padding: (padding, padding, padding, padding), groups: groups)
        return conv2d(input, weight: weight.value, bias: bias?.value, geometry: geometry)
    }
}
