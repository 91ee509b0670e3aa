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
    /// Softmax over the taps and DropConnect.
    public let normalization: KernelNormalization

    /// The projection starts from PyTorch's default uniform init; the bias at zero.
    public init(channels: Int, heads: Int, kernelSize: Int, weightSoftmax: Bool = true, weightDropout: Float = 0, bias: Bool = false,
                source: RandomSource, generator: inout RandomGenerator) {
        requireHeadwiseSizes("DynamicConvolution", channels: channels, heads: heads, kernelSize: kernelSize)
        kernelProjection = Linear(channels, heads * kernelSize, bias: false, generator: &generator)
        self.bias = bias ? Parameter(.zeros([channels])) : nil
        (self.heads, self.kernelSize) = (heads, kernelSize)
        normalization = KernelNormalization(softmax: weightSoftmax, dropConnect: weightDropout, source: source)
        super.init()
    }

    public var channels: Int { kernelProjection.inputCount }

    /// The [batch, time, H, K] kernels of every time step of `input`.
    public func kernels(for input: Tensor) -> Tensor {
        let logits = kernelProjection(input).reshaped(to: [input.shape[0], input.shape[1], heads, kernelSize])
        return normalization(logits)
    }
}
