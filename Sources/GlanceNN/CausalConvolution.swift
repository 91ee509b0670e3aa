import GlanceCore

/// Causal 1-D convolution along the sequence of [batch, length, inputs] tensors: output t
/// sees inputs t − (K − 1) … t, with zeros before the start (PyTorch's `Conv1d` after a left
/// pad of K − 1). The weight is stored as [outputs, inputs, K], PyTorch's layout; kernel size
/// 1 is a ``Linear`` map.
///
/// Computed as one affine map of the K shifted copies of the input laid side by side
/// ([batch, length, K·inputs]), so that the product goes to BLAS in a single call.
public final class CausalConvolution: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter?

    /// Weights from N(0, `standardDeviation`²) when given, otherwise PyTorch's default
    /// uniform(−1/√(inputs·K), 1/√(inputs·K)); biases start at zero.
    public init(_ inputs: Int, _ outputs: Int, kernelSize: Int, bias: Bool = true, standardDeviation: Float? = nil,
                generator: inout RandomGenerator) {
        precondition(inputs > 0 && outputs > 0 && kernelSize > 0,
                     "CausalConvolution needs positive sizes, got \(inputs) → \(outputs), kernel \(kernelSize)")
        let shape = [outputs, inputs, kernelSize]
        if let standardDeviation {
            weight = Parameter(.randomNormal(shape: shape, standardDeviation: standardDeviation, generator: &generator))
        } else {
            let bound = 1 / Float(inputs * kernelSize).squareRoot()
            weight = Parameter(.randomUniform(shape: shape, lower: -bound, upper: bound, generator: &generator))
        }
        self.bias = bias ? Parameter(.zeros([outputs])) : nil
        super.init()
    }

    public var inputCount: Int { weight.shape[1] }
    public var outputCount: Int { weight.shape[0] }
    /// Number of positions each output sees (K).
    public var kernelSize: Int { weight.shape[2] }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == inputCount,
                     "CausalConvolution expects [batch, length, \(inputCount)], got \(input.shape)")
        let taps = kernelSize, length = input.shape[1]
        // [outputs, inputs, K] → [outputs, K·inputs], matching the tap-major columns below.
        let flatWeight = weight.value.permuted([0, 2, 1]).reshaped(to: [outputCount, taps * inputCount])
        guard taps > 1 else { return affine(input, weight: flatWeight, bias: bias?.value) }
        let padded = input.padded([(0, 0), (taps - 1, 0), (0, 0)])
        let shifted = (0..<taps).map { tap in padded.sliced(alongAxis: 1, tap..<(tap + length)) }
        return affine(concatenate(shifted, alongAxis: 2), weight: flatWeight, bias: bias?.value)
    }
}
