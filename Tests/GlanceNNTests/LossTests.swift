import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// PyTorch's cross-entropy with ignore index and label smoothing, in Double.
func referenceCrossEntropy(_ logits: Tensor, _ targets: [Int], ignoreIndex: Int?, smoothing: Double) -> Double {
    let classes = logits.shape.last!
    let v = doubles(logits)
    var total = 0.0, counted = 0
    for (r, target) in targets.enumerated() where target != ignoreIndex {
        let row = Array(v[(r * classes)..<((r + 1) * classes)])
        let peak = row.max()!
        let normalizer = peak + Foundation.log(row.map { Foundation.exp($0 - peak) }.reduce(0, +))
        let logProbabilities = row.map { $0 - normalizer }
        total += (1 - smoothing) * -logProbabilities[target] + smoothing * -logProbabilities.reduce(0, +) / Double(classes)
        counted += 1
    }
    return counted == 0 ? 0 : total / Double(counted)
}

/// A cross-entropy configuration.
struct CrossEntropyCase: Sendable, CustomStringConvertible {
    let ignoreIndex: Int?
    let smoothing: Float
    var description: String { "ignore \(ignoreIndex.map(String.init) ?? "none"), smoothing \(smoothing)" }
}

let crossEntropyCases: [CrossEntropyCase] = [
    .init(ignoreIndex: nil, smoothing: 0), .init(ignoreIndex: -100, smoothing: 0),
    .init(ignoreIndex: nil, smoothing: 0.1), .init(ignoreIndex: 2, smoothing: 0.3), .init(ignoreIndex: -100, smoothing: 1),
]

@Suite struct LossTests {
    @Test(arguments: crossEntropyCases)
    func crossEntropyMatchesReference(_ c: CrossEntropyCase) {
        let logits = randomTensor([2, 3, 19], seed: 231, standardDeviation: 3)
        let targets = [4, c.ignoreIndex ?? 0, 18, 2, 0, c.ignoreIndex ?? 7]
        let loss = crossEntropy(logits: logits, targets: targets, ignoreIndex: c.ignoreIndex, labelSmoothing: c.smoothing)
        #expect(loss.shape == [])
        let expected = referenceCrossEntropy(logits, targets, ignoreIndex: c.ignoreIndex, smoothing: Double(c.smoothing))
        #expect(Swift.abs(Double(loss.item()) - expected) < 1e-5 * Swift.max(1, expected), "\(loss.item()) vs \(expected)")
    }

    @Test(arguments: crossEntropyCases)
    func crossEntropyGradient(_ c: CrossEntropyCase) {
        let logits = randomTensor([5, 4], seed: 232, standardDeviation: 2)
        let targets = [3, c.ignoreIndex ?? 1, 0, 2, c.ignoreIndex ?? 3]
        expectGradientsMatch([logits], "crossEntropy \(c)") { p in
            crossEntropy(logits: p[0], targets: targets, ignoreIndex: c.ignoreIndex, labelSmoothing: c.smoothing)
        }
        // Ignored rows get exactly zero gradient.
        if let ignore = c.ignoreIndex {
            let (_, grads) = valueAndGradient(at: [logits]) { p in
                crossEntropy(logits: p[0], targets: targets, ignoreIndex: ignore, labelSmoothing: c.smoothing)
            }
            #expect(Array(grads[0].scalars[4..<8]) == [0, 0, 0, 0] && Array(grads[0].scalars[16..<20]) == [0, 0, 0, 0])
        }
    }

    @Test func crossEntropyOfConfidentCorrectLogitsIsSmall() {
        let logits = Tensor([100, 0, 0, 0, 100, 0], shape: [2, 3])
        #expect(crossEntropy(logits: logits, targets: [0, 1]).item() < 1e-6)
        #expect(isClose(crossEntropy(logits: logits, targets: [1, 0]).item(), 100, relativeTolerance: 1e-5))
        // Uniform logits: loss log(C) for any target and any smoothing.
        let uniform = Tensor.zeros([3, 5])
        #expect(isClose(crossEntropy(logits: uniform, targets: [0, 4, 2], labelSmoothing: 0.2).item(), Float(Foundation.log(5.0)), relativeTolerance: 1e-6))
    }

    @Test func allRowsIgnoredGivesZeroLossAndGradient() {
        let logits = randomTensor([2, 3], seed: 233)
        let (value, grads) = valueAndGradient(at: [logits]) { p in crossEntropy(logits: p[0], targets: [-1, -1], ignoreIndex: -1) }
        #expect(value.item() == 0)
        #expect(grads[0].scalars.allSatisfy { $0 == 0 })
    }

    @Test func crossEntropyChainsIntoALinearModel() {
        var generator = RandomGenerator(seed: 234)
        let layer = Linear(4, 5, generator: &generator)
        randomizeParameters(layer, seed: 235)
        expectModelGradientsMatch(layer, inputs: [randomTensor([3, 4], seed: 236)], "Linear → crossEntropy") { m, x in
            crossEntropy(logits: m(x[0]), targets: [4, 0, 2], labelSmoothing: 0.1)
        }
    }

    @Test func meanSquaredErrorValueAndGradient() {
        let predictions = Tensor([1, 2, 3, 4], shape: [2, 2]), targets = Tensor([0, 2, 5, 4], shape: [2, 2])
        #expect(meanSquaredError(predictions: predictions, targets: targets).item() == 1.25)
        expectGradientsMatch([randomTensor([3, 4], seed: 237), randomTensor([3, 4], seed: 238)], "meanSquaredError") { p in
            meanSquaredError(predictions: p[0], targets: p[1])
        }
        var generator = RandomGenerator(seed: 239)
        let layer = Linear(3, 2, generator: &generator)
        randomizeParameters(layer, seed: 240)
        let target = randomTensor([4, 2], seed: 241)
        expectModelGradientsMatch(layer, inputs: [randomTensor([4, 3], seed: 242)], "Linear → meanSquaredError") { m, x in
            meanSquaredError(predictions: m(x[0]), targets: target)
        }
    }
}
