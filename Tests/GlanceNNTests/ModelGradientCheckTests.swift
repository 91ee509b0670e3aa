import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// y = x ⊙ w with a deliberately wrong gradient for w (or for x).
final class WrongScale: Module, @unchecked Sendable {
    let weight = Parameter(Tensor([0.5, -1.5, 2]))
    let _wrongInput: Bool

    init(wrongInput: Bool) {
        _wrongInput = wrongInput
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let a = x.detached(), w = weight.value.detached(), wrongInput = _wrongInput
        return (a * w).detached().recorded(from: [x, weight.value]) { g in
            wrongInput ? [g * w * 1.2, (g * a).unbroadcast(to: w.shape)] : [g * w, (g * a * 0.8).unbroadcast(to: w.shape)]
        }
    }
}

@Suite struct ModelGradientCheckTests {
    @Test(arguments: [false, true])
    func rejectsAWrongParameterOrInputGradient(_ wrongInput: Bool) {
        let model = WrongScale(wrongInput: wrongInput)
        let report = checkModelGradients(model, inputs: [randomTensor([4, 3], seed: 271)]) { m, x in m(x[0]) }
        #expect(!report.passed)
        let byLabel = Dictionary(uniqueKeysWithValues: report.comparisons.map { ($0.label, $0.passed) })
        #expect(byLabel["weight"] == wrongInput && byLabel["input 0"] == !wrongInput, "\(report)")
    }

    @Test func acceptsTheCorrectRule() {
        var generator = RandomGenerator(seed: 272)
        let layer = Linear(3, 3, generator: &generator)
        let report = checkModelGradients(layer, inputs: [randomTensor([4, 3], seed: 273)]) { m, x in m(x[0]) * m.weight.value.sum() }
        #expect(report.passed, "\(report)")
        #expect(report.comparisons.map(\.label) == ["weight", "bias", "input 0"])
        // Parameter values are restored after the check.
        #expect(!layer.weight.value.requiresGradient)
    }
}
