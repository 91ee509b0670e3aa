import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The lightweight and dynamic convolutions: the kernel against a direct sum, gradients
/// against finite differences, incremental steps against the full causal pass, key padding
/// and the one-tap identity.
@Suite struct HeadwiseConvolutionTests {
    /// out[b, t, c] = Σ_k w[h, k] · x[b, t + k − paddingLeft, c], written out element by element.
    private func directSum(_ x: Tensor, kernels w: Tensor, paddingLeft: Int) -> Tensor {
        let (batch, length, channels) = (x.shape[0], x.shape[1], x.shape[2])
        let heads = w.shape[w.rank - 2], taps = w.shape[w.rank - 1]
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<batch {
            for t in 0..<length {
                for c in 0..<channels {
                    let h = c / (channels / heads)
                    for k in 0..<taps where (0..<length).contains(t + k - paddingLeft) {
                        let weight = w.rank == 2 ? w[h, k] : w[b, t, h, k]
                        out[(b * length + t) * channels + c] += weight * x[b, t + k - paddingLeft, c]
                    }
                }
            }
        }
        return Tensor(out, shape: x.shape)
    }

    @Test("the kernel equals the direct sum (shared and per-position kernels, same and causal padding)",
          arguments: [(3, ConvolutionPadding.same), (4, .same), (3, .causal), (5, .causal), (1, .same)])
    func kernelMatchesDirectSum(_ taps: Int, _ padding: ConvolutionPadding) {
        let x = randomTensor([2, 6, 8], seed: 1)
        for kernels in [randomTensor([4, taps], seed: 2), randomTensor([2, 6, 4, taps], seed: 3)] {
            let left = padding.left(kernelSize: taps)
            let actual = headwiseConvolution(x, kernels: kernels, paddingLeft: left)
            let expected = directSum(x, kernels: kernels, paddingLeft: left)
            #expect(isClose(actual, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5), "max difference \(maxAbsoluteDifference(actual, expected))")
        }
    }

    @Test("gradients of the input and kernels match finite differences", arguments: [0, 2, 4])
    func kernelGradients(_ paddingLeft: Int) {
        expectGradientsMatch([randomTensor([2, 5, 6], seed: 4), randomTensor([3, 5], seed: 5)], "shared kernels") { t in
            headwiseConvolution(t[0], kernels: t[1], paddingLeft: paddingLeft)
        }
        expectGradientsMatch([randomTensor([2, 5, 6], seed: 6), randomTensor([2, 5, 3, 5], seed: 7)], "per-position kernels") { t in
            headwiseConvolution(t[0], kernels: t[1], paddingLeft: paddingLeft)
        }
        expectGradientsMatch([randomTensor([2, 7, 6], seed: 8), randomTensor([2, 3, 3, 5], seed: 9)], "shorter output") { t in
            headwiseConvolution(t[0], kernels: t[1], paddingLeft: paddingLeft, outputLength: 3)
        }
    }

    private func layers(kernelSize: Int, bias: Bool = true) -> [any HeadwiseConvolutionLayer] {
        var generator = RandomGenerator(seed: 10)
        let source = RandomSource(seed: 11)
        let lightweight = LightweightConvolution(channels: 6, heads: 3, kernelSize: kernelSize, bias: bias, source: source, generator: &generator)
        let dynamic = DynamicConvolution(channels: 6, heads: 3, kernelSize: kernelSize, bias: bias, source: source, generator: &generator)
        return [lightweight, dynamic]
    }

    @Test("layer gradients (weights through the softmax, the kernel projection, bias, input) match finite differences",
          arguments: [ConvolutionPadding.same, .causal])
    func layerGradients(_ padding: ConvolutionPadding) {
        for layer in layers(kernelSize: 3) {
            randomizeParameters(layer, seed: 12)
            expectModelGradientsMatch(layer, inputs: [randomTensor([2, 5, 6], seed: 13)], "\(type(of: layer))") { layer, x in
                layer(x[0], padding: padding, keyPadding: [[true, true, true, true, true], [true, true, true, false, false]])
            }
        }
    }

    @Test("one step at a time (and two at a time) equals the full causal pass", arguments: [1, 2])
    func incrementalEqualsFull(_ stepLength: Int) {
        for layer in layers(kernelSize: 4) + layers(kernelSize: 1) {
            randomizeParameters(layer, seed: 14)
            layer.eval()
            let x = randomTensor([2, 6, 6], seed: 15)
            let full = withoutGradients { layer(x, padding: .causal) }
            let cache = layer.makeCache(batch: 2)
            let steps = stride(from: 0, to: 6, by: stepLength).map { start in
                withoutGradients { layer.step(x.sliced(alongAxis: 1, start..<(start + stepLength)), cache: cache) }
            }
            let incremental = concatenate(steps, alongAxis: 1)
            #expect(cache.length == 6)
            #expect(isClose(incremental, full, relativeTolerance: 1e-5, absoluteTolerance: 1e-6),
                    "\(type(of: layer)) K \(layer.kernelSize): max difference \(maxAbsoluteDifference(incremental, full))")
        }
    }

    @Test("padded frames are zeroed before the convolution")
    func keyPaddingZeroesFrames() {
        for layer in layers(kernelSize: 3, bias: false) {
            randomizeParameters(layer, seed: 16)
            let x = randomTensor([1, 4, 6], seed: 17)
            let zeroed = concatenate([x.sliced(alongAxis: 1, 0..<2), Tensor.zeros([1, 2, 6])], alongAxis: 1)
            let padded = withoutGradients { layer(x, padding: .same, keyPadding: [[true, true, false, false]]) }
            let expected = withoutGradients { layer(zeroed, padding: .same) }
            #expect(isClose(padded, expected), "\(type(of: layer))")
        }
    }

    @Test("a one-tap kernel (K = 1, softmax weight 1) is the identity")
    func oneTapIsIdentity() {
        for layer in layers(kernelSize: 1, bias: false) {
            let x = randomTensor([2, 5, 6], seed: 18)
            #expect(isClose(withoutGradients { layer(x, padding: .same) }, x), "\(type(of: layer))")
        }
        let oneHot = Tensor([0, 0, 1, 0, 0, 0, 0, 1, 0, 0], shape: [2, 5])
        let x = randomTensor([2, 7, 4], seed: 19)
        #expect(isClose(headwiseConvolution(x, kernels: oneHot, paddingLeft: 2), x), "centred one-hot kernel")
    }

    @Test("DropConnect drops kernel taps in training only")
    func dropConnect() {
        var generator = RandomGenerator(seed: 20)
        let layer = LightweightConvolution(channels: 4, heads: 2, kernelSize: 5, weightDropout: 0.5, source: RandomSource(seed: 21),
                                           generator: &generator)
        let x = randomTensor([1, 6, 4], seed: 22)
        let kernels = layer.kernels(for: x)
        #expect(kernels.scalars.contains(0) && kernels.scalars.contains { $0 != 0 })
        layer.eval()
        #expect(isClose(layer.kernels(for: x), layer.weight.value.softmax(alongAxis: -1)))
    }

    @Test("the convolutions match the PyTorch reference (tools/reference/lsra_reference.py): outputs and gradients ≤ 1e-4",
          arguments: ["lsra_lightweight_conv_same", "lsra_dynamic_conv_causal"])
    func referenceParity(_ name: String) throws {
        let t = try ReferenceFixtures.tensors(name)
        let (heads, taps) = name.hasPrefix("lsra_lightweight") ? (3, 4) : (3, 5)
        var generator = RandomGenerator(seed: 23)
        let layer: any HeadwiseConvolutionLayer = name.hasPrefix("lsra_lightweight")
            ? LightweightConvolution(channels: 6, heads: heads, kernelSize: taps, bias: true, source: RandomSource(seed: 24), generator: &generator)
            : DynamicConvolution(channels: 6, heads: heads, kernelSize: taps, bias: true, source: RandomSource(seed: 24), generator: &generator)
        let names = ["weight": "weight", "bias": "bias", "kernel_projection.weight": "kernelProjection.weight"]
        let references = t.filter { names[$0.key] != nil }
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: references.map { (names[$0.key]!, $0.value) }))
        layer.eval()
        let padding: ConvolutionPadding = name.hasSuffix("causal") ? .causal : .same
        let input = t["input"]!.requiringGradient()
        let (_, gradients) = valueAndGradient(model: layer) { layer in (layer(input, padding: padding) * t["output_gradient"]!).sum() }
        let output = withoutGradients { layer(t["input"]!, padding: padding) }
        #expect(relativeError(output, t["output"]!) <= 1e-4, "output: \(relativeError(output, t["output"]!))")
        #expect(relativeError(input.takeGradient()!, t["grad.input"]!) <= 1e-4)
        for (key, _) in references {
            let error = relativeError(gradients[names[key]!]!, t["grad." + key]!)
            #expect(error <= 1e-4, "gradient of \(key): \(error)")
        }
    }
}
