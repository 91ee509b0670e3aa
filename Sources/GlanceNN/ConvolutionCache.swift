import GlanceCore

/// What a causal ``HeadwiseConvolutionLayer`` keeps between decoding steps: the last K − 1
/// input frames of each sequence (zeros before the first, as the causal padding), and how
/// many frames it has seen.
public final class ConvolutionCache {
    /// Sequences held side by side (``reorder(_:)`` changes it).
    public private(set) var batch: Int
    public let channels: Int
    public let kernelSize: Int
    /// Frames seen so far.
    public private(set) var length = 0
    /// [batch, K − 1, channels].
    public private(set) var recent: Tensor

    public init(batch: Int, channels: Int, kernelSize: Int) {
        precondition(batch >= 1 && channels >= 1 && kernelSize >= 1,
                     "a convolution cache needs positive sizes, got batch \(batch), channels \(channels), kernel \(kernelSize)")
        (self.batch, self.channels, self.kernelSize) = (batch, channels, kernelSize)
        recent = Tensor(shape: [batch, kernelSize - 1, channels], repeating: 0)
    }

    /// The held frames followed by `frames` [batch, n, channels] (K − 1 + n frames); keeps the
    /// last K − 1 of them for the next call. Gradients do not flow into the kept frames.
    public func window(appending frames: Tensor) -> Tensor {
        precondition(frames.rank == 3 && frames.shape[0] == batch && frames.shape[2] == channels,
                     "a convolution cache of [\(batch), ·, \(channels)] frames cannot append \(frames.shape)")
        length += frames.shape[1]
        guard kernelSize > 1 else { return frames }
        let window = concatenate([recent, frames], alongAxis: 1)
        let count = window.shape[1]
        recent = window.sliced(alongAxis: 1, (count - kernelSize + 1)..<count).detached()
        return window
    }

    /// Keeps the sequences `rows` (indices into the current ones, repeats allowed), in that
    /// order: beam search's surviving hypotheses.
    public func reorder(_ rows: [Int]) {
        precondition(!rows.isEmpty && rows.allSatisfy { (0..<batch).contains($0) }, "rows \(rows) must be indices into the cache's \(batch) sequences")
        recent = recent.gathered(alongAxis: 0, indices: IndexTensor(rows))
        batch = rows.count
    }
}
