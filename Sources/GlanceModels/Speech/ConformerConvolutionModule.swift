import GlanceCore
import GlanceNN

/// The Conformer convolution module (Gulati et al. 2020, fig. 2), after its LayerNorm:
/// pointwise convolution d → 2d, GLU over the channels, depthwise convolution (kernel K, "same"
/// padding), batch normalization, Swish, pointwise convolution d → d. The pointwise
/// convolutions are ``Linear`` layers on [batch, time, channels] (a kernel-1 convolution is a
/// per-frame linear map; Hugging Face's [out, in, 1] weights load reshaped to [out, in]).
///
/// Padded frames are zeroed before the depthwise convolution reads them and kept out of the
/// batch statistics, so that they never reach real frames.
public final class ConformerConvolutionModule: Module {
    /// `pointwise_conv1`: d → 2d.
    public let expansion: Linear
    /// `depthwise_conv`.
    public let depthwise: DepthwiseConvolution1D
    /// `norm`: batch normalization over the valid frames.
    public let norm: SequenceBatchNorm
    /// `pointwise_conv2`: d → d.
    public let projection: Linear

    public init(channels: Int, kernelSize: Int, bias: Bool = true, generator: inout RandomGenerator) {
        expansion = Linear(channels, 2 * channels, bias: bias, generator: &generator)
        depthwise = DepthwiseConvolution1D(channels: channels, kernelSize: kernelSize, bias: bias, generator: &generator)
        norm = SequenceBatchNorm(channels: channels)
        projection = Linear(channels, channels, bias: bias, generator: &generator)
        super.init()
    }

    /// [batch, time, channels] → the same shape; `validFrames` [batch, time, 1] (nil: all real).
    public func callAsFunction(_ input: Tensor, validFrames: Tensor?) -> Tensor {
        let gated = gatedLinearUnit(expansion(input))
        let filtered = depthwise(gated, validFrames: validFrames)
        return projection(silu(norm(filtered, validFrames: validFrames)))
    }
}
