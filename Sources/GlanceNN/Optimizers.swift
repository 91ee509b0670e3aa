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

/// Runs `body` over a parameter, its gradient and its slots, writing the parameter in place.
func applyInPlace(_ update: ParameterUpdate, slots: inout [Tensor],
                  _ body: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, [UnsafeMutablePointer<Float>], Int) -> Void) {
    var value = update.parameter.value
    update.parameter.value = Tensor.zeros([])  // drop the module's reference so the write happens in place
    value.withUnsafeMutableBufferPointer { parameter in
        update.gradient.withUnsafeBufferPointer { gradient in
            var pointers: [UnsafeMutablePointer<Float>] = []
            for index in slots.indices {
                slots[index].withUnsafeMutableBufferPointer { pointers.append($0.baseAddress!) }
            }
            body(parameter.baseAddress!, gradient.baseAddress!, pointers, parameter.count)
        }
    }
    update.parameter.value = value
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
            applyInPlace(update, slots: &state) { p, g, s, n in
                for i in 0..<n {
                    var d = g[i] + decay * p[i]
                    if mu > 0 {
                        s[0][i] = first ? d : mu * s[0][i] + d
                        d = s[0][i]
                    }
                    p[i] -= lr * d
                }
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
            applyInPlace(update, slots: &state) { p, g, s, n in
                let m = s[0], v = s[1]
                for i in 0..<n {
                    var gi = g[i]
                    if decoupled { p[i] -= lr * decay * p[i] } else { gi += decay * p[i] }
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                    let mHat = m[i] / correction1, vHat = v[i] / correction2
                    p[i] -= lr * mHat / (vHat.squareRoot() + eps)
                }
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
            applyInPlace(update, slots: &state) { p, g, s, n in
                for i in 0..<n {
                    s[0][i] += g[i] * g[i]
                    p[i] -= lr * g[i] / (s[0][i].squareRoot() + eps)
                }
            }
            setSlot("sum", for: update.key, state[0])
        }
    }
}
