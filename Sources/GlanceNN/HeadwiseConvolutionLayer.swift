import GlanceCore

/// Where a convolution's window sits around its output position.
public enum ConvolutionPadding: String, Codable, Sendable, CaseIterable {
    /// Centred (an encoder): K div 2 frames before for odd K, (K − 1) div 2 for even K
    /// (the left part of fairseq's ((K − 1) div 2, K div 2)).
    case same
    /// Looking back only (a decoder): K − 1 frames before, output t sees inputs ≤ t.
    case causal

    /// Frames of zeros before the first input for kernels of `kernelSize` taps.
    public func left(kernelSize: Int) -> Int {
        switch self {
        case .same: (kernelSize - 1) / 2
        case .causal: kernelSize - 1
        }
    }
}

/// How a ``HeadwiseConvolutionLayer`` turns raw kernels into the ones it applies: softmax over
/// the K taps (fairseq's `weight_softmax`), then DropConnect in training (`weight_dropout`).
public final class KernelNormalization: Module {
    /// Whether the kernels are softmax-normalized over their taps.
    public let softmax: Bool
    /// DropConnect on the normalized kernels.
    public let dropConnect: Dropout

    public init(softmax: Bool, dropConnect probability: Float, source: RandomSource) {
        self.softmax = softmax
        dropConnect = Dropout(probability: probability, source: source)
        super.init()
    }

    /// `kernels` [..., K] normalized over the last axis, with DropConnect in training.
    public func callAsFunction(_ kernels: Tensor) -> Tensor {
        dropConnect(softmax ? kernels.softmax(alongAxis: -1) : kernels)
    }
}

/// Stops with a message naming `layer` unless the sizes are positive and `heads` divides `channels`.
func requireHeadwiseSizes(_ layer: String, channels: Int, heads: Int, kernelSize: Int) {
    precondition(channels >= 1 && heads >= 1 && kernelSize >= 1 && channels % heads == 0,
                 "\(layer) needs \(heads) heads to split \(channels) channels, kernel \(kernelSize)")
}

/// A convolution whose heads each apply one kernel, normalized over its K taps, to C/H
/// channels: ``LightweightConvolution`` (one kernel per head) and ``DynamicConvolution``
/// (one per head and time step, computed from the input). Input and output are [batch, time,
/// channels]; frames marked as padding are zeroed before the convolution.
public protocol HeadwiseConvolutionLayer: Module {
    /// Input and output width C.
    var channels: Int { get }
    /// Heads H; each owns C/H consecutive channels.
    var heads: Int { get }
    /// Taps K of each kernel.
    var kernelSize: Int { get }
    /// Optional bias [C] added after the convolution.
    var bias: Parameter? { get }
    /// The kernels for `input` [batch, time, C]: [H, K] shared by every position, or
    /// [batch, time, H, K]; softmax-normalized and with DropConnect applied when configured.
    func kernels(for input: Tensor) -> Tensor
}

extension HeadwiseConvolutionLayer {
    /// The convolution of `input` [batch, time, C] with `padding`; `keyPadding[b][t]` false
    /// marks frame t of entry b as padding, zeroed before the convolution.
    public func callAsFunction(_ input: Tensor, padding: ConvolutionPadding, keyPadding: [[Bool]]? = nil) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == channels, "\(Self.self) expects [batch, time, \(channels)], got \(input.shape)")
        let x = zeroingPaddedFrames(input, keyPadding: keyPadding)
        return addingBias(headwiseConvolution(x, kernels: kernels(for: x), paddingLeft: padding.left(kernelSize: kernelSize)))
    }

    /// The causal convolution of the next frames `input` [batch, n, C], given the earlier ones
    /// that `cache` holds; appends them to it. Equal to the last n frames of the full causal pass.
    public func step(_ input: Tensor, cache: ConvolutionCache, keyPadding: [[Bool]]? = nil) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == channels, "\(Self.self) expects [batch, n, \(channels)], got \(input.shape)")
        let x = zeroingPaddedFrames(input, keyPadding: keyPadding)
        let window = cache.window(appending: x)
        return addingBias(headwiseConvolution(window, kernels: kernels(for: x), paddingLeft: 0, outputLength: x.shape[1]))
    }

    /// An empty cache for ``step(_:cache:keyPadding:)`` over `batch` sequences.
    public func makeCache(batch: Int) -> ConvolutionCache {
        ConvolutionCache(batch: batch, channels: channels, kernelSize: kernelSize)
    }

    private func addingBias(_ output: Tensor) -> Tensor {
        bias.map { output + $0.value } ?? output
    }
}
