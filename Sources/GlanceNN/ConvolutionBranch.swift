import GlanceCore

/// Which convolution a ``ConvolutionBranch`` runs.
public enum ConvolutionKind: String, Codable, Sendable, CaseIterable {
    /// ``LightweightConvolution``: one kernel per head.
    case lightweight
    /// ``DynamicConvolution``: one kernel per head and time step.
    case dynamic
}

/// The convolution branch of Lite Transformer's long-short range attention (and of fairseq's
/// LightConv layers): input projection (C → 2C and a gated linear unit, or C → C), padded
/// frames zeroed, a lightweight or dynamic convolution, output projection (C → C). Input and
/// output are [batch, time, C].
public final class ConvolutionBranch: Module {
    /// C → 2C with the gated linear unit, else C → C.
    public let input: Linear
    public let convolution: any HeadwiseConvolutionLayer
    /// C → C.
    public let output: Linear
    /// Whether the input projection feeds a gated linear unit.
    public let gated: Bool

    public init(channels: Int, heads: Int, kernelSize: Int, kind: ConvolutionKind, gated: Bool = true, weightSoftmax: Bool = true,
                weightDropout: Float = 0, bias: Bool = false, source: RandomSource, generator: inout RandomGenerator) {
        input = Linear(channels, gated ? 2 * channels : channels, generator: &generator)
        switch kind {
        case .lightweight:
            convolution = LightweightConvolution(channels: channels, heads: heads, kernelSize: kernelSize, weightSoftmax: weightSoftmax,
                                                 weightDropout: weightDropout, bias: bias, source: source, generator: &generator)
        case .dynamic:
            convolution = DynamicConvolution(channels: channels, heads: heads, kernelSize: kernelSize, weightSoftmax: weightSoftmax,
                                             weightDropout: weightDropout, bias: bias, source: source, generator: &generator)
        }
        output = Linear(channels, channels, generator: &generator)
        self.gated = gated
        super.init()
    }

    /// Input and output width C.
    public var channels: Int { output.outputCount }

    /// The branch over whole sequences; `keyPadding[b][t]` false marks a padded frame.
    public func callAsFunction(_ x: Tensor, padding: ConvolutionPadding, keyPadding: [[Bool]]? = nil) -> Tensor {
        output(convolution(projectedInput(x), padding: padding, keyPadding: keyPadding))
    }

    /// The causal branch over the next frames `x` [batch, n, C], with the earlier ones in `cache`.
    public func step(_ x: Tensor, cache: ConvolutionCache) -> Tensor {
        output(convolution.step(projectedInput(x), cache: cache))
    }

    /// An empty cache for ``step(_:cache:)`` over `batch` sequences.
    public func makeCache(batch: Int) -> ConvolutionCache { convolution.makeCache(batch: batch) }

    private func projectedInput(_ x: Tensor) -> Tensor {
        let projected = input(x)
        return gated ? gatedLinearUnit(projected) : projected
    }
}
