import Foundation
import GlanceCore

/// Updates a model's parameters from gradients keyed like ``Module/trainableParameters()``:
/// each parameter once per step, shared ones included.
///
/// Optimizer state (moments, step count) can be exported and restored, so that a resumed
/// run continues exactly.
public protocol Optimizer: AnyObject {
    /// The learning rate of the next update (schedules set it every step).
    var learningRate: Float { get set }
    /// Applies one update.
    func update(model: Module, gradients: [String: Tensor])
    /// State tensors under stable names, and the step count.
    func stateTensors() -> [String: Tensor]
    var step: Int { get }
    /// Restores what ``stateTensors()`` and ``step`` returned.
    func restore(state: [String: Tensor], step: Int) throws
}

/// What an optimizer needs to know about one parameter and its gradient.
struct ParameterUpdate {
    let key: String
    let parameter: Parameter
    let gradient: Tensor
}

/// Pairs each trainable parameter with its gradient; parameters without one are skipped.
func updates(for model: Module, _ gradients: [String: Tensor]) -> [ParameterUpdate] {
    model.trainableParameters().compactMap { key, parameter in
        guard let gradient = gradients[key] else { return nil }
        precondition(gradient.shape == parameter.shape, "gradient for \(key) has shape \(gradient.shape), parameter \(parameter.shape)")
        return ParameterUpdate(key: key, parameter: parameter, gradient: gradient)
    }
}

/// Shared state handling: named slots of per-parameter tensors.
public class StatefulOptimizer {
    public var learningRate: Float
    public private(set) var step = 0
    var slots: [String: [String: Tensor]] = [:]
    let slotNames: [String]

    init(learningRate: Float, slotNames: [String]) {
        self.learningRate = learningRate
        self.slotNames = slotNames
    }

    func advance() { step += 1 }

    /// Takes the slot tensor of a parameter out of the state (zeros on first use), so that
    /// the update owns it and writes it in place; ``setSlot(_:for:_:)`` puts it back.
    func takeSlot(_ name: String, for update: ParameterUpdate, initial: Float = 0) -> Tensor {
        slots[name, default: [:]].removeValue(forKey: update.key) ?? .full(update.parameter.shape, initial)
    }

    func setSlot(_ name: String, for key: String, _ value: Tensor) { slots[name, default: [:]][key] = value }

    public func stateTensors() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, tensors) in slots { for (key, value) in tensors { result["\(name).\(key)"] = value } }
        return result
    }

    public func restore(state: [String: Tensor], step: Int) throws {
        var restored: [String: [String: Tensor]] = [:]
        for (fullKey, value) in state {
            guard let dot = fullKey.firstIndex(of: "."), slotNames.contains(String(fullKey[..<dot])) else {
                throw OptimizerStateError(key: fullKey)
            }
            restored[String(fullKey[..<dot]), default: [:]][String(fullKey[fullKey.index(after: dot)...])] = value
        }
        slots = restored
        self.step = step
    }
}

/// An optimizer state tensor whose name this optimizer does not know.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let key: String
    public var description: String { "optimizer state has an unknown entry '\(key)'" }
}

/// The lanes of one optimizer step: 16 elements of a parameter (written back), of its
/// gradient, and of up to two state slots (written back when the optimizer has them).
struct UpdateLanes {
    var parameter: FloatVector
    let gradient: FloatVector
    var first = FloatVector()
    var second = FloatVector()
}

/// Runs `step` over a parameter, its gradient and its slots in one pass, 16 elements at a
/// time, writing the parameter and the slots in place; parameters of many elements are split
/// across threads. Each element's arithmetic is that of a scalar loop (no fused
/// multiply-add), so the result does not depend on the vector width or the thread count.
func applyInPlace(_ update: ParameterUpdate, slots: inout [Tensor], _ step: (inout UpdateLanes) -> Void) {
    precondition(slots.count <= 2, "an optimizer step has at most two slots, got \(slots.count)")
    var value = update.parameter.value
    update.parameter.value = Tensor.zeros([])  // drop the module's reference so the write happens in place
    value.withUnsafeMutableBufferPointer { parameterBuffer in
        update.gradient.withUnsafeBufferPointer { gradientBuffer in
            var slotPointers: [SendablePointer<Float>] = []
            for index in slots.indices {
                slots[index].withUnsafeMutableBufferPointer { slotPointers.append(SendablePointer($0.baseAddress!)) }
            }
            let parameter = SendablePointer(parameterBuffer.baseAddress!), gradient = SendablePointer(gradientBuffer.baseAddress!)
            let first = slotPointers.first, second = slotPointers.count > 1 ? slotPointers[1] : nil
            parallelFor(parameterBuffer.count, grain: 1 << 16) { range in
                var i = range.lowerBound
                while i < range.upperBound {
                    let lanes = Swift.min(16, range.upperBound - i)
                    var values = UpdateLanes(parameter: loadLanes(parameter.base + i, lanes), gradient: loadLanes(gradient.base + i, lanes))
                    if let first { values.first = loadLanes(first.base + i, lanes) }
                    if let second { values.second = loadLanes(second.base + i, lanes) }
                    step(&values)
                    storeLanes(values.parameter, parameter.base + i, lanes)
                    if let first { storeLanes(values.first, first.base + i, lanes) }
                    if let second { storeLanes(values.second, second.base + i, lanes) }
                    i += lanes
                }
            }
        }
    }
    update.parameter.value = value
}

/// The first `lanes` (≤ 16) floats at `pointer` in a vector (the other lanes 0).
@inline(__always)
private func loadLanes(_ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) -> FloatVector {
    if lanes == 16 { return loadVector(pointer) }
    var vector = FloatVector()
    for lane in 0..<lanes { vector[lane] = pointer[lane] }
    return vector
}

/// Writes the first `lanes` (≤ 16) lanes of `vector` to `pointer`.
@inline(__always)
private func storeLanes(_ vector: FloatVector, _ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 16 { return storeVector(vector, pointer) }
    for lane in 0..<lanes { pointer[lane] = vector[lane] }
}

/// Stochastic gradient descent with optional momentum (PyTorch's formulation) and L2 weight decay.
public final class SGD: StatefulOptimizer, Optimizer {
    public let momentum: Float
    public let weightDecay: Float

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, slotNames: ["momentum"])
    }

    public func update(model: Module, gradients: [String: Tensor]) {
        advance()
        let lr = learningRate, mu = momentum, decay = weightDecay
        for update in updates(for: model, gradients) {
            var state = mu > 0 ? [takeSlot("momentum", for: update)] : []
            let first = step == 1
            applyInPlace(update, slots: &state) { x in
                var d = x.gradient + decay * x.parameter
                if mu > 0 {
                    x.first = first ? d : mu * x.first + d
                    d = x.first
                }
                x.parameter -= lr * d
            }
            if mu > 0 { setSlot("momentum", for: update.key, state[0]) }
        }
    }
}

/// Adam (Kingma & Ba) with bias correction. `decoupledWeightDecay` gives AdamW
/// (Loshchilov & Hutter); otherwise weight decay is added to the gradient (L2).
public class Adam: StatefulOptimizer, Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    let decoupled: Bool
    /// Decides per parameter key whether weight decay applies (default: all).
    public var decays: (String, Parameter) -> Bool = { _, _ in true }

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        decoupled = decoupledWeightDecay
        super.init(learningRate: learningRate, slotNames: ["m", "v"])
    }

    public func update(model: Module, gradients: [String: Tensor]) {
        advance()
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon, decoupled = self.decoupled
        let correction1 = 1 - Foundation.pow(b1, Float(step)), correction2 = 1 - Foundation.pow(b2, Float(step))
        for update in updates(for: model, gradients) {
            let decay = decays(update.key, update.parameter) ? weightDecay : 0
            var state = [takeSlot("m", for: update), takeSlot("v", for: update)]
            applyInPlace(update, slots: &state) { x in
                var g = x.gradient
                if decoupled { x.parameter -= lr * decay * x.parameter } else { g += decay * x.parameter }
                x.first = b1 * x.first + (1 - b1) * g
                x.second = b2 * x.second + (1 - b2) * g * g
                let mHat = x.first / correction1, vHat = x.second / correction2
                x.parameter -= lr * mHat / (vHat.squareRoot() + eps)
            }
            setSlot("m", for: update.key, state[0])
            setSlot("v", for: update.key, state[1])
        }
    }
}

/// Adam with decoupled weight decay (default 0.01, as in PyTorch).
public final class AdamW: Adam {
    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        super.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, decoupledWeightDecay: true)
    }
}

/// Adagrad (Duchi et al.): per-element learning rates from accumulated squared gradients.
public final class Adagrad: StatefulOptimizer, Optimizer {
    public let epsilon: Float, initialAccumulator: Float

    public init(learningRate: Float, epsilon: Float = 1e-10, initialAccumulator: Float = 0) {
        self.epsilon = epsilon
        self.initialAccumulator = initialAccumulator
        super.init(learningRate: learningRate, slotNames: ["sum"])
    }

    public func update(model: Module, gradients: [String: Tensor]) {
        advance()
        let lr = learningRate, eps = epsilon, initial = initialAccumulator
        for update in updates(for: model, gradients) {
            var state = [takeSlot("sum", for: update, initial: initial)]
            applyInPlace(update, slots: &state) { x in
                x.first += x.gradient * x.gradient
                x.parameter -= lr * x.gradient / (x.first.squareRoot() + eps)
            }
            setSlot("sum", for: update.key, state[0])
        }
    }
}
