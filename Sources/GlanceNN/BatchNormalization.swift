import GlanceCore

/// Batch normalization over the channels of [batch, time, channels] sequences whose padded
/// frames must not count: statistics are taken over the valid frames only (PyTorch's
/// `BatchNorm1d` on the Conformer convolution module, with padding kept out of the batch
/// statistics). Training normalizes with the batch statistics; evaluation with the running
/// estimates, which are buffers (non-trainable parameters) and so are saved in checkpoints.
///
/// The running estimates move once per optimizer step, not once per forward pass: the
/// forward passes of a step (one per micro-batch under gradient accumulation) add their valid
/// frames' sums to a pool, and ``afterStep(_:)`` (called by the trainer after the update)
/// applies one momentum update with the pooled mean and unbiased variance, the statistics a
/// single batch of all those frames would have had. A step hook was chosen over updating on
/// the last micro-batch so that every frame of the step counts and the result does not depend
/// on how a batch is split. Without a trainer, call ``updateRunningStatistics()``.
///
/// Normalization and its backward are written out (``batchNormalized(_:weight:bias:validFrames:statistics:epsilon:)``):
/// two passes for the statistics and one for the output forward, two backward. Glance's only
/// batch normalization: PyTorch's `BatchNorm1d` on [batch, channels, length] is this on the
/// transposed layout (with running estimates moved per step rather than per forward pass).
public final class SequenceBatchNorm: Module, UnaryLayer, TrainingStepHooks {
    public let weight: Parameter
    public let bias: Parameter
    /// `running_mean` [channels], a buffer.
    public let runningMean: Parameter
    /// `running_var` [channels] (unbiased), a buffer.
    public let runningVariance: Parameter
    public let epsilon: Float
    public let momentum: Float
    /// Valid frames, and per-channel sums and sums of squares, seen in training since the last update.
    private var pooled: (frames: Double, sums: [Double], squares: [Double])

    public init(channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        precondition(channels > 0, "SequenceBatchNorm needs channels > 0, got \(channels)")
        weight = Parameter(.ones([channels]))
        bias = Parameter(.zeros([channels]))
        runningMean = Parameter(.zeros([channels]), trainable: false)
        runningVariance = Parameter(.ones([channels]), trainable: false)
        self.epsilon = epsilon
        self.momentum = momentum
        pooled = (0, [Double](repeating: 0, count: channels), [Double](repeating: 0, count: channels))
        super.init()
    }

    public var channels: Int { weight.shape[0] }

    /// Every frame valid.
    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, validFrames: nil) }

    /// Normalizes `input` [batch, time, channels]; `validFrames` ([batch, time, 1] of ones and
    /// zeros, see ``frameMask(_:time:)``) keeps padded frames out of the training statistics.
    /// Padded frames are normalized too (with the same statistics) and stay don't-cares.
    public func callAsFunction(_ input: Tensor, validFrames: Tensor?) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == channels,
                     "SequenceBatchNorm(\(channels)) expects [batch, time, \(channels)], got \(input.shape)")
        if let validFrames {
            precondition(validFrames.shape == [input.shape[0], input.shape[1], 1],
                         "SequenceBatchNorm valid frames must be [\(input.shape[0]), \(input.shape[1]), 1], got \(validFrames.shape)")
        }
        let running = isTraining ? nil : ChannelStatistics(frames: 0, mean: runningMean.value.scalars, variance: runningVariance.value.scalars)
        let (output, used) = batchNormalized(input, weight: weight.value, bias: bias.value, validFrames: validFrames, statistics: running,
                                             epsilon: epsilon)
        if isTraining { pool(frames: used.frames, mean: used.mean, variance: used.variance) }
        return output
    }

    private func pool(frames: Float, mean: [Float], variance: [Float]) {
        let n = Double(frames)
        pooled.frames += n
        for c in 0..<channels {
            let m = Double(mean[c])
            pooled.sums[c] += n * m
            pooled.squares[c] += n * (Double(variance[c]) + m * m)
        }
    }

    /// Forgets statistics pooled before the step (from evaluation-free forward passes outside training).
    public func beforeStep(_ step: Int) { clearPool() }

    public func afterStep(_ step: Int) { updateRunningStatistics() }

    /// One momentum update of the running estimates with the statistics pooled since the last
    /// update (none: no change), then clears the pool.
    public func updateRunningStatistics() {
        defer { clearPool() }
        let n = pooled.frames
        guard n > 0 else { return }
        let means = pooled.sums.map { $0 / n }
        let variances = zip(pooled.squares, means).map { square, mean in Swift.max(square / n - mean * mean, 0) * n / Swift.max(n - 1, 1) }
        let keep = 1 - momentum
        runningMean.value = runningMean.value * keep + Tensor(means.map(Float.init), shape: [channels]) * momentum
        runningVariance.value = runningVariance.value * keep + Tensor(variances.map(Float.init), shape: [channels]) * momentum
    }

    private func clearPool() {
        pooled = (0, [Double](repeating: 0, count: channels), [Double](repeating: 0, count: channels))
    }
}
