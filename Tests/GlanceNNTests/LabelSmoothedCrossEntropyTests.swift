import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

@Suite struct LabelSmoothedCrossEntropyTests {
    /// fairseq's label_smoothed_nll_loss written out in Double: (1 − ε − ε/(V−1))·nll + ε/(V−1)·Σ_c −log p_c, averaged over counted rows.
    static func reference(_ logits: Tensor, _ targets: [Int], epsilon: Double, ignore: Int?) -> (loss: Double, nll: Double) {
        let classes = logits.shape.last!, values = logits.scalars.map(Double.init)
        var loss = 0.0, nll = 0.0, count = 0
        for (r, target) in targets.enumerated() where target != ignore {
            let row = Array(values[(r * classes)..<((r + 1) * classes)])
            let peak = row.max()!
            let logSumExp = peak + log(row.map { exp($0 - peak) }.reduce(0, +))
            let rowNLL = logSumExp - row[target], smooth = row.map { logSumExp - $0 }.reduce(0, +)
            let other = epsilon / Double(classes - 1)
            loss += (1 - epsilon - other) * rowNLL + other * smooth
            nll += rowNLL
            count += 1
        }
        return (loss / Double(max(count, 1)), nll / Double(max(count, 1)))
    }

    @Test("equals fairseq's formula, with and without ignored rows", arguments: [(0.0, nil), (0.1, nil), (0.1, 0), (0.3, 2)] as [(Double, Int?)])
    func value(_ epsilon: Double, _ ignore: Int?) {
        let logits = randomTensor([2, 3, 11], seed: 41, standardDeviation: 3)
        let targets = [4, ignore ?? 0, 10, 2, 0, ignore ?? 7]
        let result = labelSmoothedCrossEntropy(logits: logits, targets: targets, epsilon: Float(epsilon), ignoreIndex: ignore)
        let expected = Self.reference(logits, targets, epsilon: epsilon, ignore: ignore)
        #expect(abs(Double(result.loss.item()) - expected.loss) < 1e-5 * max(1, expected.loss), "\(result.loss.item()) vs \(expected.loss)")
        #expect(abs(Double(result.negativeLogLikelihood) - expected.nll) < 1e-5 * max(1, expected.nll))
        #expect(result.count == targets.filter { $0 != ignore }.count)
        if epsilon == 0 {
            #expect(isClose(result.loss.item(), crossEntropy(logits: logits, targets: targets, ignoreIndex: ignore).item(), relativeTolerance: 1e-5))
        }
    }

    @Test("the hand-written backward matches finite differences; ignored rows get zero gradient", arguments: [0.0, 0.1, 0.4] as [Float])
    func gradient(_ epsilon: Float) {
        let logits = randomTensor([5, 4], seed: 42, standardDeviation: 2)
        let targets = [3, 0, 1, 2, 0]
        expectGradientsMatch([logits], "label smoothing \(epsilon)") { p in
            labelSmoothedCrossEntropy(logits: p[0], targets: targets, epsilon: epsilon, ignoreIndex: 0).loss
        }
        let (_, gradients) = valueAndGradient(at: [logits]) { p in
            labelSmoothedCrossEntropy(logits: p[0], targets: targets, epsilon: epsilon, ignoreIndex: 0).loss
        }
        #expect(Array(gradients[0].scalars[4..<8]) == [0, 0, 0, 0] && Array(gradients[0].scalars[16..<20]) == [0, 0, 0, 0])
    }
}
