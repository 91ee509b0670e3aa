import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The causal convolution layer over [batch, length, channels] against GlanceCore's
/// channels-first `conv1d(causal:)`, its gradients, and kernel size 1 as a linear map.
@Suite struct CausalConvolutionTests {
    @Test("equals conv1d with causal padding on the channels-first layout", arguments: [1, 2, 4, 9])
    func matchesConv1d(_ kernelSize: Int) {
        var generator = RandomGenerator(seed: 1)
        let layer = CausalConvolution(5, 3, kernelSize: kernelSize, generator: &generator)
        randomizeParameters(layer, seed: 2)
        let x = randomTensor([2, 7, 5], seed: 3)
        let expected = conv1d(x.permuted([0, 2, 1]), weight: layer.weight.value, bias: layer.bias?.value, causal: true).permuted([0, 2, 1])
        let actual = withoutGradients { layer(x) }
        #expect(actual.shape == [2, 7, 3])
        #expect(isClose(actual, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6), "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("kernel size 1 is the linear map of the same weights")
    func kernelOneIsLinear() {
        var generator = RandomGenerator(seed: 4)
        let layer = CausalConvolution(4, 6, kernelSize: 1, generator: &generator)
        randomizeParameters(layer, seed: 5)
        let x = randomTensor([3, 5, 4], seed: 6)
        let expected = referenceLinear(x, layer.weight.value.reshaped(to: [6, 4]), layer.bias?.value)
        #expect(isClose(withoutGradients { layer(x) }.scalars, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }

    @Test("gradients of the input, weight and bias match finite differences", arguments: [1, 3])
    func gradientCheck(_ kernelSize: Int) {
        var generator = RandomGenerator(seed: 7)
        let layer = CausalConvolution(3, 4, kernelSize: kernelSize, generator: &generator)
        let parameters = layer.trainableParameters().map(\.parameter)
        let saved = parameters.map(\.value)
        defer { for (p, value) in zip(parameters, saved) { p.value = value } }
        var random = TestRandom(seed: 8)
        let report = checkGradients(at: [randomTensor([2, 6, 3], seed: 9)] + saved.map { random.normal($0.shape) }) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.value = value }
            return layer(t[0])
        }
        #expect(report.passed, "\(report)")
    }
}
