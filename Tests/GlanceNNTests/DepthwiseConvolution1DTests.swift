import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The direct depthwise convolution over [batch, time, channels] against GlanceCore's
/// channels-first grouped `conv1d`, its hand-written gradients, and padding that never leaks.
@Suite struct DepthwiseConvolution1DTests {
    @Test("equals a grouped conv1d on the channels-first layout", arguments: [(1, 1, 0), (3, 1, 1), (5, 2, 2), (4, 3, 1), (9, 1, 4)])
    func matchesGroupedConv1d(_ taps: Int, _ stride: Int, _ padding: Int) {
        let channels = 19
        let x = randomTensor([2, 11, channels], seed: 1), w = randomTensor([channels, 1, taps], seed: 2), b = randomTensor([channels], seed: 3)
        let expected = conv1d(x.permuted([0, 2, 1]), weight: w, bias: b, stride: stride, padding: (padding, padding), groups: channels)
            .permuted([0, 2, 1])
        let actual = withoutGradients { depthwiseConvolution1D(x, weight: w, bias: b, stride: stride, padding: padding) }
        #expect(actual.shape == expected.shape)
        #expect(isClose(actual, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5), "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("gradients of input, weight and bias match finite differences", arguments: [(3, 1, 1), (4, 2, 1), (5, 3, 2)])
    func gradients(_ taps: Int, _ stride: Int, _ padding: Int) {
        let points = [randomTensor([2, 7, 17], seed: 4), randomTensor([17, 1, taps], seed: 5), randomTensor([17], seed: 6)]
        expectGradientsMatch(points, "depthwise K \(taps) stride \(stride)") { t in
            depthwiseConvolution1D(t[0], weight: t[1], bias: t[2], stride: stride, padding: padding)
        }
        expectGradientsMatch(Array(points.prefix(2)), "depthwise without bias") { t in
            depthwiseConvolution1D(t[0], weight: t[1], stride: stride, padding: padding)
        }
    }

    @Test("the layer pads to the same length and padded frames do not reach real ones")
    func sameLengthAndMasking() {
        var generator = RandomGenerator(seed: 7)
        let layer = DepthwiseConvolution1D(channels: 5, kernelSize: 7, generator: &generator)
        let alone = randomTensor([1, 4, 5], seed: 8)
        let padded = concatenate([alone, randomTensor([1, 3, 5], seed: 9, standardDeviation: 100)], alongAxis: 1)
        let (short, long) = withoutGradients {
            (layer(alone), layer(padded, validFrames: frameMask([4], time: 7)))
        }
        #expect(long.shape == [1, 7, 5])
        #expect(isClose(long.sliced(alongAxis: 1, 0..<4), short, relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }
}
