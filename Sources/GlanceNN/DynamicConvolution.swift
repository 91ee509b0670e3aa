import GlanceCore

/// Dynamic convolution (Wu et al. 2019, fairseq's `DynamicConv1dTBC`) on [batch, time,
/// channels]: like ``LightweightConvolution`` but each time step computes its own kernels
/// from its input frame, w_t = softmax_K(reshape(Linear(C → H·K, no bias)(x_t))), with
/// DropConnect on w_t in training and an optional bias after the convolution.
public final class DynamicConvolution: Module, HeadwiseConvolutionLayer {
    /// C → H·K, no bias: the kernels of each time step.
    public let kernelProjection: Linear
    public let bias: Parameter?
    public let heads: Int
    public let kernelSize: Int
    /// Whether the kernels are softmax-normalized over their taps.
    public let weightSoftmax: Bool
    /// DropConnect on the normalized kernels.
    public let weightDropout: Dropout

    /// The projection starts from PyTorch's default uniform init; the bias at zero.
    public init(channels: Int, heads: Int, kernelSize: Int, weightSoftmax: Bool = true, weightDropout: Float = 0, bias: Bool = false,
                source: RandomSource, generator: inout RandomGenerator) {
        precondition(channels >= 1 && heads >= 1 && kernelSize >= 1 && channels % heads == 0,
                     "DynamicConvolution needs \(heads) heads to split \(channels) channels, kernel \(kernelSize)")
        kernelProjection = Linear(channels, heads * kernelSize, bias: false, generator: &generator)
        self.bias = bias ? Parameter(.zeros([channels])) : nil
        (self.heads, self.kernelSize, self.weightSoftmax) = (heads, kernelSize, weightSoftmax)
        self.weightDropout = Dropout(probability: weightDropout, source: source)
        super.init()
    }

    public var channels: Int { kernelProjection.inputCount }

    /// The [batch, time, H, K] kernels of every time step of `input`.
    public func kernels(for input: Tensor) -> Tensor {
        let logits = kernelProjection(input).reshaped(to: [input.shape[0], input.shape[1], heads, kernelSize])
        return weightDropout(weightSoftmax ? logits.softmax(alongAxis: -1) : logits)
    }
}
