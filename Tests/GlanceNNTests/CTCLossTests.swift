import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// A ctc_* fixture of tools/reference/make_speech_fixtures.py with its JSON settings.
struct CTCFixture {
    let tensors: [String: Tensor]
    let labels: [[Int]]
    let inputLengths: [Int]
    let blank: Int
    let reduction: CTCReduction
    let zeroInfinity: Bool

    init(_ name: String) throws {
        tensors = try ReferenceFixtures.tensors(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ReferenceFixtures.folder.appendingPathComponent("\(name).json"))) as! [String: Any]
        labels = json["labels"] as! [[Int]]
        inputLengths = json["input_lengths"] as! [Int]
        blank = json["blank"] as! Int
        reduction = CTCReduction(rawValue: json["reduction"] as! String)!
        zeroInfinity = json["zero_infinity"] as! Bool
    }

    func loss(_ logProbabilities: Tensor, reduction: CTCReduction? = nil) -> Tensor {
        try! ctcLoss(logProbabilities: logProbabilities, labels: labels, inputLengths: inputLengths, blank: blank,
                     reduction: reduction ?? self.reduction, zeroInfinity: zeroInfinity)
    }
}

let ctcFixtureNames = ["ctc_repeats_blank0", "ctc_blank_last_sum", "ctc_zero_infinity"]

@Suite struct CTCLossTests {
    @Test(arguments: ctcFixtureNames)
    func lossesAndGradientsMatchPyTorch(_ name: String) throws {
        let fixture = try CTCFixture(name)
        let t = fixture.tensors
        let losses = fixture.loss(t["log_probs"]!, reduction: CTCReduction.none)
        #expect(maxAbsoluteDifference(losses, t["losses"]!) <= 1e-4, "\(losses.scalars) vs \(t["losses"]!.scalars)")
        let (value, gradients) = valueAndGradient(at: [t["logits"]!]) { p in fixture.loss(p[0].logSoftmax()) }
        #expect(Swift.abs(value.item() - t["output"]!.item()) <= 1e-4)
        #expect(maxAbsoluteDifference(gradients[0], t["grad.logits"]!) <= 1e-4)
    }

    /// PyTorch's gradient with respect to the log-probabilities is Glance's (the exact one)
    /// plus weight·exp(log p) on the valid frames of the sequences with a finite loss.
    @Test(arguments: ctcFixtureNames)
    func pyTorchLogProbabilityGradientDiffersByTheSoftmaxTerm(_ name: String) throws {
        let fixture = try CTCFixture(name)
        let logProbabilities = fixture.tensors["log_probs"]!
        let (_, gradients) = valueAndGradient(at: [logProbabilities]) { p in fixture.loss(p[0]) }
        let losses = fixture.tensors["losses"]!.scalars
        let (batch, frames, classes) = (logProbabilities.shape[0], logProbabilities.shape[1], logProbabilities.shape[2])
        var expected = gradients[0].scalars
        for b in 0..<batch where losses[b] > 0 || fixture.labels[b].isEmpty {
            let weight = fixture.reduction == .mean ? 1 / Float(batch * Swift.max(fixture.labels[b].count, 1)) : 1
            for t in 0..<fixture.inputLengths[b] {
                for c in 0..<classes { expected[(b * frames + t) * classes + c] += weight * Foundation.exp(logProbabilities[b, t, c]) }
            }
        }
        #expect(maxAbsoluteDifference(expected, fixture.tensors["grad.log_probs"]!.scalars) <= 1e-4)
    }

    @Test(arguments: CTCReduction.allCases)
    func gradientMatchesFiniteDifferences(_ reduction: CTCReduction) {
        // Unnormalised inputs on purpose: the backward is the exact derivative for any values.
        let logProbabilities = randomTensor([3, 6, 4], seed: 1301, standardDeviation: 1) - 1.5
        let labels = [[1, 1, 3], [2], [3, 1]]
        expectGradientsMatch([logProbabilities], "ctc \(reduction)") { p in
            try! ctcLoss(logProbabilities: p[0], labels: labels, inputLengths: [6, 4, 5], blank: 0, reduction: reduction)
        }
    }

    @Test func zeroInfinityGradientCheck() {
        let logProbabilities = randomTensor([2, 5, 3], seed: 1302).logSoftmax()
        expectGradientsMatch([logProbabilities], "ctc zero infinity") { p in
            try! ctcLoss(logProbabilities: p[0], labels: [[1, 1, 1], [2, 1]], inputLengths: [4, 5], blank: 0, zeroInfinity: true)
        }
    }

    @Test func singleFrameAndEmptyLabelsHaveClosedForms() throws {
        // One frame, one label: −log p(label); no labels: −Σ log p(blank).
        let logProbabilities = Tensor([0.5, 0.2, 0.3, 0.1, 0.6, 0.3].map { Float(Foundation.log($0)) }, shape: [2, 1, 3])
        let losses = try ctcLoss(logProbabilities: logProbabilities, labels: [[2], []], inputLengths: [1, 1], blank: 0, reduction: .none)
        #expect(isClose(losses.scalars, [-Foundation.log(Float(0.3)), -Foundation.log(Float(0.1))]))
        // Two frames, label [1] with blank 0, p(blank) = 0.6, p(1) = 0.4: paths 11, 01, 10.
        let two = Tensor([0.6, 0.4, 0.6, 0.4].map { Float(Foundation.log($0)) }, shape: [1, 2, 2])
        #expect(isClose(try ctcLoss(logProbabilities: two, labels: [[1]], inputLengths: [2]).item(), -Foundation.log(Float(0.64))))
    }

    @Test func impossibleAndInvalidLabelsThrowNamingTheEntry() {
        let logProbabilities = randomTensor([2, 4, 5], seed: 1303).logSoftmax()
        func error(labels: [[Int]], lengths: [Int] = [4, 4], blank: Int = 0) -> CTCLossError? {
            do { _ = try ctcLoss(logProbabilities: logProbabilities, labels: labels, inputLengths: lengths, blank: blank); return nil } catch {
                return error as? CTCLossError
            }
        }
        // [1, 1, 2, 2] needs 6 frames; entry 1 has 4.
        let tooLong = error(labels: [[1, 2], [1, 1, 2, 2]])
        #expect(tooLong?.batchIndex == 1 && tooLong?.field == "labels" && tooLong?.description.contains("6 frames") == true)
        #expect(error(labels: [[1, 0], [1]])?.batchIndex == 0)                 // a label equal to the blank
        #expect(error(labels: [[1], [5]])?.field == "labels")                  // outside the classes
        #expect(error(labels: [[1], [1]], lengths: [4, 5])?.field == "input length")
        #expect(error(labels: [[1, 4], [1]], blank: 4)?.batchIndex == 0)
        #expect(ctcMinimumFrames([1, 1, 2, 2, 2, 3]) == 9)
        // With zero_infinity the impossible entry contributes 0.
        let losses = try? ctcLoss(logProbabilities: logProbabilities, labels: [[1, 2], [1, 1, 2, 2]], inputLengths: [4, 4],
                                  reduction: .none, zeroInfinity: true)
        #expect(losses?.scalars[1] == 0 && (losses?.scalars[0] ?? 0) > 0)
    }
}
