import GlanceCore

/// Layer normalization over the last axis with a learned scale and shift.
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Parameter?
    public let bias: Parameter?
    public let epsilon: Float

    public init(dimensions: Int, epsilon: Float = 1e-5, affine: Bool = true) {
        weight = affine ? Parameter(.ones([dimensions])) : nil
        bias = affine ? Parameter(.zeros([dimensions])) : nil
        self.epsilon = epsilon
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        input.layerNormalized(weight: weight?.value, bias: bias?.value, epsilon: epsilon)
    }
}

/// Batch normalization over the channel axis of [batch, channels] or [batch, channels, length]
/// inputs. Training uses the batch statistics and updates running estimates; evaluation uses
/// the running estimates (PyTorch's `BatchNorm1d`, momentum 0.1).
public final class BatchNorm1d: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let epsilon: Float
    public let momentum: Float

    public init(features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        weight = Parameter(.ones([features]))
        bias = Parameter(.zeros([features]))
        runningMean = Parameter(.zeros([features]), trainable: false)
        runningVariance = Parameter(.ones([features]), trainable: false)
        self.epsilon = epsilon
        self.momentum = momentum
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition((input.rank == 2 || input.rank == 3) && input.shape[1] == weight.shape[0],
                     "BatchNorm1d(\(weight.shape[0])) expects [B, C] or [B, C, L], got \(input.shape)")
        let axes = input.rank == 2 ? [0] : [0, 2]
        let statShape = input.rank == 2 ? [1, input.shape[1]] : [1, input.shape[1], 1]
        let mean: Tensor, variance: Tensor
        if isTraining {
            mean = input.mean(alongAxes: axes, keepingDimensions: true)
            variance = input.variance(alongAxes: axes, keepingDimensions: true)
            let n = Float(input.count / input.shape[1])
            withoutGradients {
                let unbiased = variance.detached().reshaped(to: [-1]) * (n / Swift.max(n - 1, 1))
                runningMean.value = runningMean.value * (1 - momentum) + mean.detached().reshaped(to: [-1]) * momentum
                runningVariance.value = runningVariance.value * (1 - momentum) + unbiased * momentum
            }
        } else {
            mean = runningMean.value.reshaped(to: statShape)
            variance = runningVariance.value.reshaped(to: statShape)
        }
        let normalized = (input - mean) / sqrt(variance + epsilon)
        return normalized * weight.value.reshaped(to: statShape) + bias.value.reshaped(to: statShape)
    }
}
