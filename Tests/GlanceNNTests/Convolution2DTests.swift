import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The 2-D convolution layer: output sizes and gradients, regular and depthwise (groups = channels).
@Suite struct Convolution2DTests {
    @Test("output size and gradients, regular and depthwise", arguments: [1, 4])
    func gradients(_ groups: Int) {
        var generator = RandomGenerator(seed: 1)
        let layer = Convolution2D(4, 4, kernelSize: 3, stride: 2, padding: 1, groups: groups, generator: &generator)
        let x = randomTensor([2, 4, 7, 6], seed: 2)
        let y = withoutGradients { layer(x) }
        #expect(y.shape == [2, 4, layer.outputSize(7), layer.outputSize(6)] && layer.outputSize(7) == 4 && layer.outputSize(6) == 3)
        expectModelGradientsMatch(layer, inputs: [x], "Convolution2D groups \(groups)") { m, x in m(x[0]) }
    }
}
