import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// A parameter large enough for the update to split across threads, with a count that is
/// not a multiple of 16.
final class LargeParameter: Module, @unchecked Sendable {
    let weight: Parameter
    init(_ value: Tensor) { weight = Parameter(value) }
}

/// The element-by-element Float loops the optimizers ran before their fused vector pass:
/// the fused pass must give the same bits.
func scalarUpdate(_ kind: String, step: Int, p: inout [Float], g: [Float], first: inout [Float], second: inout [Float]) {
    let lr: Float = 0.01, decay: Float = 0.1, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
    let correction1 = 1 - Foundation.pow(b1, Float(step)), correction2 = 1 - Foundation.pow(b2, Float(step))
    for i in p.indices {
        switch kind {
        case "AdamW", "Adam L2":
            var gi = g[i]
            if kind == "AdamW" { p[i] -= lr * decay * p[i] } else { gi += decay * p[i] }
            first[i] = b1 * first[i] + (1 - b1) * gi
            second[i] = b2 * second[i] + (1 - b2) * gi * gi
            let mHat = first[i] / correction1, vHat = second[i] / correction2
            p[i] -= lr * mHat / (vHat.squareRoot() + eps)
        case "SGD momentum":
            var d = g[i] + decay * p[i]
            first[i] = step == 1 ? d : 0.9 * first[i] + d
            d = first[i]
            p[i] -= lr * d
        default:
            first[i] += g[i] * g[i]
            p[i] -= lr * g[i] / (first[i].squareRoot() + 1e-10)
        }
    }
}

@Suite struct FusedOptimizerUpdateTests {
    @Test(arguments: ["AdamW", "Adam L2", "SGD momentum", "Adagrad"])
    func fusedPassEqualsTheScalarLoopBitForBit(_ kind: String) {
        let count = 150_001
        var random = TestRandom(seed: 61)
        let model = LargeParameter(random.normal([count]))
        let optimizer: Optimizer = switch kind {
        case "AdamW": AdamW(learningRate: 0.01, weightDecay: 0.1)
        case "Adam L2": Adam(learningRate: 0.01, weightDecay: 0.1)
        case "SGD momentum": SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 0.1)
        default: Adagrad(learningRate: 0.01)
        }
        var p = model.weight.value.scalars, first = [Float](repeating: 0, count: count), second = first
        for step in 1...3 {
            let gradient = random.normal([count])
            optimizer.update(model: model, gradients: ["weight": gradient])
            scalarUpdate(kind, step: step, p: &p, g: gradient.scalars, first: &first, second: &second)
            #expect(model.weight.value.scalars == p, "\(kind) step \(step)")
        }
        let state = optimizer.stateTensors()
        #expect(state[kind == "Adagrad" ? "sum.weight" : kind == "SGD momentum" ? "momentum.weight" : "m.weight"]!.scalars == first)
        if kind.hasPrefix("Adam") { #expect(state["v.weight"]!.scalars == second) }
    }
}
