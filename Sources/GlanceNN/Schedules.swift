import Foundation
import GlanceCore

/// A learning rate as a function of the (zero-based) step.
public protocol LearningRateSchedule: Sendable {
    func learningRate(at step: Int) -> Float
}

/// A constant learning rate.
public struct ConstantSchedule: LearningRateSchedule {
    public let rate: Float
    public init(_ rate: Float) { self.rate = rate }
    public func learningRate(at step: Int) -> Float { rate }
}

/// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to
/// `peak · minimumRatio` at `totalSteps − 1`.
public struct WarmupCosineSchedule: LearningRateSchedule {
    public let peak: Float, warmupSteps: Int, totalSteps: Int, minimumRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minimumRatio: Float = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimumRatio = minimumRatio
    }

    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = Swift.max(totalSteps - 1 - warmupSteps, 1)
        let progress = Swift.min(1, Float(step - warmupSteps) / Float(span))
        let cosine = 0.5 * (1 + Foundation.cos(Float.pi * progress))
        return peak * (minimumRatio + (1 - minimumRatio) * cosine)
    }
}

/// Linear warm-up, then decay with the inverse square root of the step (Vaswani et al.).
public struct InverseSquareRootSchedule: LearningRateSchedule {
    public let peak: Float, warmupSteps: Int

    public init(peak: Float, warmupSteps: Int) {
        self.peak = peak
        self.warmupSteps = Swift.max(warmupSteps, 1)
    }

    public func learningRate(at step: Int) -> Float {
        let s = Float(step + 1), w = Float(warmupSteps)
        return step < warmupSteps ? peak * s / w : peak * (w / s).squareRoot()
    }
}

/// Scales gradients so that their global L2 norm is at most `maximumNorm`; returns the norm
/// before clipping.
@discardableResult
public func clipGlobalNorm(_ gradients: inout [String: Tensor], maximumNorm: Float) -> Float {
    // Summed in key order: a dictionary's order differs between instances, and so would the norm's rounding.
    let norm = gradients.keys.sorted().reduce(Float(0)) { total, key in
        total + gradients[key]!.withUnsafeBufferPointer { vectorDot($0.baseAddress!, $0.baseAddress!, $0.count) }
    }.squareRoot()
    if maximumNorm > 0, norm > maximumNorm {
        let scale = maximumNorm / (norm + 1e-6)
        for key in gradients.keys { gradients[key] = gradients[key]! * scale }
    }
    return norm
}

/// Sums gradients over several micro-batches and returns their mean.
public struct GradientAccumulator {
    private var sums: [String: Tensor] = [:]
    public private(set) var count = 0

    public init() {}

    public mutating func add(_ gradients: [String: Tensor]) {
        for (key, gradient) in gradients { sums[key] = sums[key].map { $0 + gradient } ?? gradient }
        count += 1
    }

    /// The mean of the added gradients; resets the accumulator.
    public mutating func average() -> [String: Tensor] {
        defer { sums = [:]; count = 0 }
        let n = Float(Swift.max(count, 1))
        return sums.mapValues { $0 / n }
    }
}
