import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

final class TwoParameters: Module, @unchecked Sendable {
    let weight = Parameter(Tensor([1, -2, 0.5]))
    let bias = Parameter(Tensor([0.25, -0.75]))
    let frozen = Parameter(Tensor([3]), trainable: false)
}

/// The same gradients every run: three steps for both parameters (and one for `frozen`).
let gradientSequence: [[String: Tensor]] = [
    ["weight": Tensor([0.5, -1, 2]), "bias": Tensor([0.1, 0.3]), "frozen": Tensor([1])],
    ["weight": Tensor([-0.25, 0.75, 1]), "bias": Tensor([-0.2, 0.05])],
    ["weight": Tensor([1.5, 0.1, -0.3]), "bias": Tensor([0.4, -0.6])],
]

/// A hand-written Double reference of one optimizer over the gradient sequence.
struct ReferenceOptimizer {
    enum Kind { case sgd(momentum: Double, decay: Double), adam(decay: Double, decoupled: Bool), adagrad(initial: Double) }
    let kind: Kind
    let learningRate: Double
    var state: [String: [[Double]]] = [:]
    var step = 0

    init(_ kind: Kind, learningRate: Double) {
        self.kind = kind
        self.learningRate = learningRate
    }

    mutating func update(_ parameters: inout [String: [Double]], _ gradients: [String: Tensor]) {
        step += 1
        let t = Double(step), lr = learningRate
        for key in ["weight", "bias"] {
            guard let g = gradients[key].map(doubles), var p = parameters[key] else { continue }
            var s = state[key] ?? []
            switch kind {
            case let .sgd(mu, decay):
                if s.isEmpty { s = [p.map { _ in 0 }] }
                for i in p.indices {
                    var d = g[i] + decay * p[i]
                    if mu > 0 { s[0][i] = step == 1 ? d : mu * s[0][i] + d; d = s[0][i] }
                    p[i] -= lr * d
                }
            case let .adam(decay, decoupled):
                if s.isEmpty { s = [p.map { _ in 0 }, p.map { _ in 0 }] }
                for i in p.indices {
                    var gi = g[i]
                    if decoupled { p[i] -= lr * decay * p[i] } else { gi += decay * p[i] }
                    s[0][i] = 0.9 * s[0][i] + 0.1 * gi
                    s[1][i] = 0.999 * s[1][i] + 0.001 * gi * gi
                    let mHat = s[0][i] / (1 - Foundation.pow(0.9, t)), vHat = s[1][i] / (1 - Foundation.pow(0.999, t))
                    p[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
                }
            case let .adagrad(initial):
                if s.isEmpty { s = [p.map { _ in initial }] }
                for i in p.indices {
                    s[0][i] += g[i] * g[i]
                    p[i] -= lr * g[i] / (s[0][i].squareRoot() + 1e-10)
                }
            }
            state[key] = s
            parameters[key] = p
        }
    }
}

/// An optimizer under test with its Double reference.
struct OptimizerCase: Sendable, CustomStringConvertible {
    let name: String
    var description: String { name }

    func make() -> (Optimizer, ReferenceOptimizer) {
        switch name {
        case "SGD": (SGD(learningRate: 0.1), ReferenceOptimizer(.sgd(momentum: 0, decay: 0), learningRate: 0.1))
        case "SGD momentum": (SGD(learningRate: 0.1, momentum: 0.9), ReferenceOptimizer(.sgd(momentum: 0.9, decay: 0), learningRate: 0.1))
        case "SGD momentum decay": (SGD(learningRate: 0.05, momentum: 0.5, weightDecay: 0.1),
                                    ReferenceOptimizer(.sgd(momentum: 0.5, decay: 0.1), learningRate: 0.05))
        case "Adam": (Adam(learningRate: 0.01), ReferenceOptimizer(.adam(decay: 0, decoupled: false), learningRate: 0.01))
        case "Adam L2": (Adam(learningRate: 0.01, weightDecay: 0.1), ReferenceOptimizer(.adam(decay: 0.1, decoupled: false), learningRate: 0.01))
        case "AdamW": (AdamW(learningRate: 0.01, weightDecay: 0.1), ReferenceOptimizer(.adam(decay: 0.1, decoupled: true), learningRate: 0.01))
        case "Adagrad": (Adagrad(learningRate: 0.1), ReferenceOptimizer(.adagrad(initial: 0), learningRate: 0.1))
        default: (Adagrad(learningRate: 0.1, initialAccumulator: 0.5), ReferenceOptimizer(.adagrad(initial: 0.5), learningRate: 0.1))
        }
    }
}

let optimizerCases = ["SGD", "SGD momentum", "SGD momentum decay", "Adam", "Adam L2", "AdamW", "Adagrad", "Adagrad initial"].map(OptimizerCase.init)

@Suite struct OptimizerTests {
    @Test(arguments: optimizerCases)
    func matchesHandComputedSteps(_ c: OptimizerCase) {
        let model = TwoParameters()
        let (optimizer, initialReference) = c.make()
        var reference = initialReference
        var expected = ["weight": doubles(model.weight.value), "bias": doubles(model.bias.value)]
        for (index, gradients) in gradientSequence.enumerated() {
            optimizer.update(model: model, gradients: gradients)
            reference.update(&expected, gradients)
            #expect(optimizer.step == index + 1)
            for key in ["weight", "bias"] {
                let actual = model.parameterValues()[key]!.scalars
                #expect(isClose(actual, expected[key]!.map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-6),
                        "\(c) step \(index + 1) \(key): \(actual) vs \(expected[key]!)")
            }
        }
        #expect(model.frozen.value.scalars == [3], "non-trainable parameters are never updated")
    }

    @Test func firstStepsByHand() {
        // SGD: p − lr·g
        let model = TwoParameters()
        SGD(learningRate: 0.1).update(model: model, gradients: ["weight": Tensor([1, 1, 1])])
        #expect(isClose(model.weight.value.scalars, [0.9, -2.1, 0.4]))
        #expect(model.bias.value.scalars == [0.25, -0.75], "parameters without a gradient are skipped")
        // Adam's first step moves every element by lr·sign(g) (up to ε).
        let adamModel = TwoParameters()
        Adam(learningRate: 0.01).update(model: adamModel, gradients: ["weight": Tensor([3, -0.001, 0.2])])
        #expect(isClose(adamModel.weight.value.scalars, [0.99, -1.99, 0.49], relativeTolerance: 1e-5))
        // Momentum 0.9, constant gradient 1: steps of 1, 1.9, 2.71 times lr.
        let momentumModel = TwoParameters()
        let sgd = SGD(learningRate: 1, momentum: 0.9)
        for _ in 0..<3 { sgd.update(model: momentumModel, gradients: ["bias": Tensor([1, 1])]) }
        #expect(isClose(momentumModel.bias.value.scalars, [0.25 - 5.61, -0.75 - 5.61], relativeTolerance: 1e-6))
        // Adagrad: first step lr·g/|g| = lr·sign(g).
        let adagradModel = TwoParameters()
        Adagrad(learningRate: 0.5).update(model: adagradModel, gradients: ["bias": Tensor([4, -0.1])])
        #expect(isClose(adagradModel.bias.value.scalars, [-0.25, -0.25], relativeTolerance: 1e-6))
    }

    @Test(arguments: optimizerCases)
    func exportedStateContinuesIdentically(_ c: OptimizerCase) throws {
        let first = TwoParameters(), second = TwoParameters()
        let (optimizer, _) = c.make()
        for gradients in gradientSequence.prefix(2) { optimizer.update(model: first, gradients: gradients) }
        let state = optimizer.stateTensors(), step = optimizer.step
        try second.update(parameters: first.parameterValues())
        // The original keeps going; the exported snapshot must not change with it.
        optimizer.update(model: first, gradients: gradientSequence[2])

        let (resumed, _) = c.make()
        try resumed.restore(state: state, step: step)
        #expect(resumed.step == 2)
        resumed.update(model: second, gradients: gradientSequence[2])
        for key in ["weight", "bias"] {
            #expect(first.parameterValues()[key]!.scalars == second.parameterValues()[key]!.scalars, "\(c) \(key)")
        }
        let after = optimizer.stateTensors(), resumedAfter = resumed.stateTensors()
        #expect(Set(after.keys) == Set(resumedAfter.keys))
        for (key, value) in after { #expect(value.scalars == resumedAfter[key]!.scalars, "\(c) state \(key)") }
    }

    @Test func stateNamesAndUnknownEntries() throws {
        let model = TwoParameters()
        let adam = Adam(learningRate: 0.01)
        adam.update(model: model, gradients: gradientSequence[0])
        #expect(Set(adam.stateTensors().keys) == ["m.weight", "v.weight", "m.bias", "v.bias"])
        #expect(throws: OptimizerStateError.self) { try adam.restore(state: ["moment.weight": Tensor([1])], step: 1) }
        #expect(throws: OptimizerStateError.self) { try adam.restore(state: ["nodot": Tensor([1])], step: 1) }
        let sgd = SGD(learningRate: 0.1)
        sgd.update(model: model, gradients: gradientSequence[0])
        #expect(sgd.stateTensors().isEmpty, "plain SGD keeps no state")
        let adagrad = Adagrad(learningRate: 0.1)
        adagrad.update(model: model, gradients: gradientSequence[0])
        #expect(Set(adagrad.stateTensors().keys) == ["sum.weight", "sum.bias"])
    }

    @Test func adamDecaySelectionAndLearningRateChanges() {
        let model = TwoParameters()
        let adamW = AdamW(learningRate: 0.1, weightDecay: 0.5)
        adamW.decays = { key, _ in key != "bias" }
        let zero = ["weight": Tensor.zeros([3]), "bias": Tensor.zeros([2])]
        adamW.update(model: model, gradients: zero)
        // With zero gradients only the decoupled decay moves the weight: p·(1 − lr·wd).
        #expect(isClose(model.weight.value.scalars, [0.95, -1.9, 0.475], relativeTolerance: 1e-6))
        #expect(model.bias.value.scalars == [0.25, -0.75])
        adamW.learningRate = 0.2
        adamW.update(model: model, gradients: zero)
        #expect(isClose(model.weight.value.scalars, [0.855, -1.71, 0.4275], relativeTolerance: 1e-6))
    }

    @Test func trainingStepReducesTheLoss() {
        var generator = RandomGenerator(seed: 251)
        let layer = Linear(3, 1, generator: &generator)
        let x = randomTensor([8, 3], seed: 252), target = (x.matmul(Tensor([1, -2, 0.5], shape: [3, 1])) + 0.3)
        let optimizer = Adam(learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<60 {
            let (loss, grads) = valueAndGradient(model: layer) { m in meanSquaredError(predictions: m(x), targets: target) }
            losses.append(loss.item())
            optimizer.update(model: layer, gradients: grads)
        }
        #expect(losses.last! < 0.1 * losses.first!, "\(losses.first!) → \(losses.last!)")
    }
}
