import GlanceCore

/// Lightweight convolution (Wu et al. 2019, fairseq's `LightweightConv1dTBC`) on [batch,
/// time, channels]: each of H heads has one kernel of K taps, shared by the C/H channels of
/// the head and by every position,
///
///     out[b, t, c] = Σ_k w[h, k] · x[b, t + k − padding_l, c],   h = c div (C/H),
///
/// with w = softmax over K of the weight (`weightSoftmax`), DropConnect on w in training
/// (`weightDropout`), and an optional bias. The weight is [H, K] (fairseq's [H, 1, K]).
public final class LightweightConvolution: Module, HeadwiseConvolutionLayer {
    /// [heads, K].
    public let weight: Parameter
    public let bias: Parameter?
    public let channels: Int
    /// Softmax over the taps and DropConnect.
    public let normalization: KernelNormalization

    /// Weights from fairseq's Xavier-uniform init (fan-in K, fan-out H·K); the bias starts at zero.
    public init(channels: Int, heads: Int, kernelSize: Int, weightSoftmax: Bool = true, weightDropout: Float = 0, bias: Bool = false,
                source: RandomSource, generator: inout RandomGenerator) {
        requireHeadwiseSizes("LightweightConvolution", channels: channels, heads: heads, kernelSize: kernelSize)
        let bound = (6 / Float(kernelSize + heads * kernelSize)).squareRoot()
        weight = Parameter(.randomUniform(shape: [heads, kernelSize], lower: -bound, upper: bound, generator: &generator))
        self.bias = bias ? Parameter(.zeros([channels])) : nil
        self.channels = channels
        normalization = KernelNormalization(softmax: weightSoftmax, dropConnect: weightDropout, source: source)
        super.init()
    }

    public var heads: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[1] }

    /// The [H, K] kernels every position shares.
    public func kernels(for input: Tensor) -> Tensor {
        normalization(weight.value)
    }
}
