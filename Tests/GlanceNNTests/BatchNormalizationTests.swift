import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Batch normalization of padded sequences: statistics over valid frames only, one running
/// update per step pooled over its forward passes, evaluation with the running estimates,
/// buffers in the parameter list, and gradients.
@Suite struct BatchNormalizationTests {
    @Test("statistics ignore padded frames: a padded batch normalizes real frames as the unpadded frames alone")
    func paddingDoesNotCount() {
        let norm = SequenceBatchNorm(channels: 3)
        randomizeParameters(norm, seed: 1)
        let real = randomTensor([1, 5, 3], seed: 2)
        let padded = concatenate([real, randomTensor([1, 4, 3], seed: 3, standardDeviation: 50)], alongAxis: 1)
        let (alone, masked) = withoutGradients { (norm(real), norm(padded, validFrames: frameMask([5], time: 9))) }
        #expect(isClose(masked.sliced(alongAxis: 1, 0..<5), alone, relativeTolerance: 1e-4, absoluteTolerance: 1e-5))
    }

    @Test("running statistics move once per step, with the statistics of all the step's frames")
    func oneUpdatePerStep() {
        let norm = SequenceBatchNorm(channels: 2, momentum: 0.1)
        #expect(norm.trainableParameters().map(\.key) == ["weight", "bias"])
        #expect(norm.namedParameters().map(\.key) == ["weight", "bias", "runningMean", "runningVariance"])
        let a = randomTensor([2, 3, 2], seed: 4) + 1, b = randomTensor([1, 4, 2], seed: 5) - 1
        norm.beforeStep(0)
        _ = withoutGradients { (norm(a), norm(b, validFrames: frameMask([3], time: 4))) }
        #expect(norm.runningMean.value.scalars == [0, 0], "no update before the step ends")
        norm.afterStep(0)
        let frames = (0..<2).map { c in
            a.scalars.enumerated().filter { $0.offset % 2 == c }.map { Double($0.element) }
                + (0..<3).map { Double(b.scalars[$0 * 2 + c]) }
        }
        for c in 0..<2 {
            let mean = frames[c].reduce(0, +) / 9
            let unbiased = frames[c].map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 8
            #expect(Swift.abs(Double(norm.runningMean.value.scalars[c]) - 0.1 * mean) < 1e-5)
            #expect(Swift.abs(Double(norm.runningVariance.value.scalars[c]) - (0.9 + 0.1 * unbiased)) < 1e-5)
        }
        let saved = norm.runningMean.value.scalars
        norm.afterStep(1)
        #expect(norm.runningMean.value.scalars == saved, "a step without forward passes changes nothing")
    }

    @Test("evaluation uses the running estimates")
    func evaluation() throws {
        let norm = SequenceBatchNorm(channels: 2)
        try norm.update(parameters: ["weight": Tensor([2, 1]), "bias": Tensor([0, 1]),
                                     "runningMean": Tensor([1, -1]), "runningVariance": Tensor([4, 0.25])])
        norm.eval()
        let y = norm(Tensor([3, 0, 1, -1], shape: [1, 2, 2]))
        let e: Float = 1e-5
        #expect(isClose(y.scalars, [2 * 2 / (4 + e).squareRoot(), 1 / (0.25 + e).squareRoot() + 1, 0, 1], relativeTolerance: 1e-6))
    }

    @Test("gradients match finite differences, with and without a mask, in training and evaluation", arguments: [true, false])
    func gradients(_ training: Bool) throws {
        let norm = SequenceBatchNorm(channels: 3)
        randomizeParameters(norm, seed: 6)
        try norm.update(parameters: ["runningMean": Tensor([0.5, -0.5, 0]), "runningVariance": Tensor([2, 0.5, 1])], requireAll: false)
        norm.train(training)
        let mask = frameMask([4, 2], time: 4)
        expectModelGradientsMatch(norm, inputs: [randomTensor([2, 4, 3], seed: 7)], "masked, training \(training)") { m, x in
            m(x[0], validFrames: mask) * mask
        }
        expectModelGradientsMatch(norm, inputs: [randomTensor([2, 3, 3], seed: 8)], "unmasked, training \(training)") { m, x in m(x[0]) }
    }
}
