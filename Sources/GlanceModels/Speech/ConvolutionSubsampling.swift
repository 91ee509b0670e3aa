import GlanceCore
import GlanceNN

/// The front-end that shortens a sequence of feature frames before the Conformer blocks.
public enum SubsamplingKind: String, Codable, CaseIterable, Sendable {
    /// Conformer's 4×: two Conv2d(k 3, stride 2, no padding) + ReLU (ESPnet's `Conv2dSubsampling`).
    case conv2d
    /// FastConformer's 8× (or any power of two): Conv2d(1 → C, k 3, s 2, pad 1) + ReLU, then
    /// per further halving a depthwise Conv2d(k 3, s 2, pad 1) → pointwise Conv2d(1×1) → ReLU
    /// (NeMo's and Hugging Face Parakeet's "dw_striding").
    case depthwiseStriding = "dw_striding"
}

/// Convolution subsampling of [batch, time, features] log-mel frames to [batch, time′,
/// modelDimensions]: the frames become a one-channel image [batch, 1, time, features], go
/// through strided 2-D convolutions, and each output frame's channels × remaining features are
/// projected by a ``Linear`` layer.
///
/// Padding never leaks: the padded input frames are zeroed first, and after every convolution
/// the frames beyond each entry's new length are zeroed again (a bias would otherwise make them
/// non-zero, and the next convolution's padding-1 window reads one of them), so a padded batch
/// gives each utterance's frames exactly as the utterance alone.
public final class ConvolutionSubsampling: Module {
    /// The convolutions in order (Hugging Face's `layers` without the ReLUs).
    public let convolutions: [Convolution2D]
    /// The indices of the convolutions followed by a ReLU.
    public let activated: Set<Int>
    /// `linear`: channels × remaining features → model dimensions.
    public let linear: Linear
    public let kind: SubsamplingKind
    public let features: Int

    /// `factor` must be 4 for ``SubsamplingKind/conv2d`` and a power of two ≥ 2 for
    /// ``SubsamplingKind/depthwiseStriding``.
    public init(kind: SubsamplingKind, factor: Int, features: Int, channels: Int, modelDimensions: Int, generator: inout RandomGenerator) {
        var layers: [Convolution2D] = [], activated: Set<Int> = []
        switch kind {
        case .conv2d:
            precondition(factor == 4, "conv2d subsampling is 4×, got \(factor)")
            layers.append(Convolution2D(1, channels, kernelSize: 3, stride: 2, generator: &generator))
            layers.append(Convolution2D(channels, channels, kernelSize: 3, stride: 2, generator: &generator))
            activated = [0, 1]
        case .depthwiseStriding:
            precondition(factor >= 2 && factor & (factor - 1) == 0, "dw_striding subsampling needs a power of two ≥ 2, got \(factor)")
            layers.append(Convolution2D(1, channels, kernelSize: 3, stride: 2, padding: 1, generator: &generator))
            activated = [0]
            for _ in 1..<factor.trailingZeroBitCount {
                layers.append(Convolution2D(channels, channels, kernelSize: 3, stride: 2, padding: 1, groups: channels, generator: &generator))
                layers.append(Convolution2D(channels, channels, kernelSize: 1, generator: &generator))
                activated.insert(layers.count - 1)
            }
        }
        let remaining = layers.reduce(features) { $1.outputSize($0) }
        precondition(remaining >= 1, "\(features) feature bins are too few for \(kind.rawValue) subsampling")
        convolutions = layers
        self.activated = activated
        linear = Linear(channels * remaining, modelDimensions, generator: &generator)
        self.kind = kind
        self.features = features
        super.init()
    }

    /// The number of frames left from `length` input frames (each strided convolution maps
    /// n to ⌊(n + 2·padding − 3) / 2⌋ + 1, as Hugging Face's `_get_subsampling_output_length`).
    public func outputLength(_ length: Int) -> Int {
        convolutions.reduce(length) { $1.outputSize($0) }
    }

    /// [batch, time, features] → ([batch, time′, modelDimensions], lengths′). `lengths` (nil:
    /// every frame real) gives each entry's real frames.
    public func callAsFunction(_ input: Tensor, lengths: [Int]? = nil) -> (output: Tensor, lengths: [Int]?) {
        precondition(input.rank == 3 && input.shape[2] == features,
                     "ConvolutionSubsampling expects [batch, time, \(features)], got \(input.shape)")
        var lengths = lengths
        var x = input.expandingDimension(at: 1)
        x = masked(x, lengths)
        for (index, convolution) in convolutions.enumerated() {
            x = convolution(x)
            lengths = lengths?.map { convolution.outputSize($0) }
            x = masked(x, lengths)
            if activated.contains(index) { x = relu(x) }
        }
        let (batch, channels, time, remaining) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let frames = x.permuted([0, 2, 1, 3]).reshaped(to: [batch, time, channels * remaining])
        return (linear(frames), lengths)
    }

    /// `x` [batch, channels, time, features] with the frames from each entry's length on zeroed.
    private func masked(_ x: Tensor, _ lengths: [Int]?) -> Tensor {
        guard let lengths, lengths.contains(where: { $0 < x.shape[2] }) else { return x }
        return x * frameMask(lengths, time: x.shape[2]).reshaped(to: [x.shape[0], 1, x.shape[2], 1])
    }
}
