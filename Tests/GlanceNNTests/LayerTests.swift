import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// x · Wᵀ + b with a Double accumulator.
func referenceLinear(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> [Float] {
    let inputs = w.shape[1], outputs = w.shape[0], rows = x.count / inputs
    let xv = x.scalars, wv = w.scalars, bv = b?.scalars
    var out: [Float] = []
    for r in 0..<rows {
        for o in 0..<outputs {
            var total = Double(bv?[o] ?? 0)
            for i in 0..<inputs { total += Double(xv[r * inputs + i]) * Double(wv[o * inputs + i]) }
            out.append(Float(total))
        }
    }
    return out
}

/// Gives every parameter of a model random values, so that gradients do not vanish
/// (zero biases, unit scales).
func randomizeParameters(_ model: Module, seed: UInt64, standardDeviation: Float = 0.5) {
    var random = TestRandom(seed: seed)
    for (_, parameter) in model.trainableParameters() {
        parameter.value = parameter.value + random.normal(parameter.shape, standardDeviation: standardDeviation)
    }
}

@Suite struct LayerTests {
    // MARK: Linear

    @Test func linearForwardMatchesReference() {
        var generator = RandomGenerator(seed: 201)
        let layer = Linear(5, 3, generator: &generator)
        randomizeParameters(layer, seed: 202)
        let x = randomTensor([2, 4, 5], seed: 203)
        let y = layer(x)
        #expect(y.shape == [2, 4, 3])
        #expect(isClose(y.scalars, referenceLinear(x, layer.weight.value, layer.bias!.value), relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
        let noBias = Linear(5, 3, bias: false, generator: &generator)
        #expect(noBias.bias == nil && noBias.namedParameters().map(\.key) == ["weight"])
        #expect(isClose(noBias(x).scalars, referenceLinear(x, noBias.weight.value, nil), relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
        #expect(layer.inputCount == 5 && layer.outputCount == 3)
    }

    @Test func linearInitialization() {
        var generator = RandomGenerator(seed: 204)
        let uniform = Linear(100, 50, generator: &generator)
        let bound = 1 / Float(100).squareRoot()
        #expect(uniform.weight.shape == [50, 100])
        #expect(uniform.weight.value.scalars.allSatisfy { Swift.abs($0) <= bound })
        #expect(uniform.weight.value.scalars.max()! > 0.9 * bound)
        #expect(uniform.bias!.value.scalars.allSatisfy { $0 == 0 })
        let normal = Linear(100, 50, standardDeviation: 0.02, generator: &generator)
        let values = normal.weight.value.scalars.map(Double.init)
        let deviation = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(Swift.abs(deviation - 0.02) < 0.002)
    }

    @Test(arguments: [true, false])
    func linearGradients(_ bias: Bool) {
        var generator = RandomGenerator(seed: 205)
        let layer = Linear(4, 3, bias: bias, generator: &generator)
        randomizeParameters(layer, seed: 206)
        expectModelGradientsMatch(layer, inputs: [randomTensor([2, 3, 4], seed: 207)], "Linear bias \(bias)") { m, x in m(x[0]) }
    }

    // MARK: Embedding and positions

    @Test func embeddingLooksUpRowsAndItsGradientMatches() {
        var generator = RandomGenerator(seed: 208)
        let embedding = Embedding(count: 6, dimensions: 3, generator: &generator)
        let ids = IndexTensor([5, 0, 5, 2], shape: [2, 2])
        let y = embedding(ids)
        #expect(y.shape == [2, 2, 3])
        #expect(Array(y.scalars[0..<3]) == Array(embedding.weight.value.scalars[15..<18]))
        expectModelGradientsMatch(embedding, inputs: [], "Embedding") { m, _ in m(ids) }
    }

    @Test func learnedPositionsSliceAndGradient() {
        var generator = RandomGenerator(seed: 209)
        let positions = LearnedPositions(maximumLength: 6, dimensions: 4, generator: &generator)
        #expect(positions.maximumLength == 6)
        #expect(positions(count: 3).shape == [3, 4])
        #expect(positions(count: 3).scalars == Array(positions.weight.value.scalars[0..<12]))
        randomizeParameters(positions, seed: 210)
        expectModelGradientsMatch(positions, inputs: [randomTensor([2, 4, 4], seed: 211)], "LearnedPositions") { m, x in
            x[0] + m(count: 4)
        }
    }

    @Test func sinusoidalPositionsMatchTheFormula() {
        let table = sinusoidalPositions(count: 7, dimensions: 6)
        #expect(table.shape == [7, 6])
        for p in 0..<7 {
            for i in 0..<6 {
                let angle = Double(p) / Foundation.pow(10_000, Double(i - i % 2) / 6)
                let expected = i % 2 == 0 ? Foundation.sin(angle) : Foundation.cos(angle)
                #expect(Swift.abs(Double(table[p, i]) - expected) < 1e-6)
            }
        }
        #expect(sinusoidalPositions(count: 2, dimensions: 5).shape == [2, 5])
    }

    // MARK: Normalization

    @Test(arguments: [true, false])
    func layerNormModule(_ affine: Bool) {
        let norm = LayerNorm(dimensions: 5, epsilon: 1e-5, affine: affine)
        #expect(norm.namedParameters().map(\.key) == (affine ? ["weight", "bias"] : []))
        if affine { randomizeParameters(norm, seed: 212) }
        let x = randomTensor([3, 5], seed: 213, standardDeviation: 2)
        let y = norm(x)
        #expect(isClose(y, x.layerNormalized(weight: norm.weight?.value, bias: norm.bias?.value, epsilon: 1e-5)))
        if !affine {
            for r in 0..<3 {
                let row = Array(y.scalars[(r * 5)..<(r * 5 + 5)]).map(Double.init)
                #expect(Swift.abs(row.reduce(0, +)) < 1e-5)
                #expect(Swift.abs(row.map { $0 * $0 }.reduce(0, +) / 5 - 1) < 1e-4)
            }
        }
        expectModelGradientsMatch(norm, inputs: [x], "LayerNorm affine \(affine)") { m, x in m(x[0]) }
    }

    // MARK: Feed-forward

    @Test(arguments: Activation.allCases)
    func feedForwardShapesAndGradients(_ activation: Activation) {
        var generator = RandomGenerator(seed: 219)
        let block = FeedForward(dimensions: 3, hiddenDimensions: 4, activation: activation, generator: &generator)
        #expect(block.input.weight.shape == [activation == .glu ? 8 : 4, 3])
        #expect(block.output.weight.shape == [3, 4])
        randomizeParameters(block, seed: 220)
        let x = randomTensor([2, 2, 3], seed: 221)
        let y = block(x)
        #expect(y.shape == [2, 2, 3])
        let hidden = block.input(x)
        #expect(isClose(y, block.output(activation(hidden)), relativeTolerance: 1e-6))
        expectModelGradientsMatch(block, inputs: [x], "FeedForward \(activation)") { m, x in m(x[0]) }
    }

    @Test func activationsMatchCoreFunctions() {
        let x = randomTensor([2, 6], seed: 222)
        #expect(Activation.gelu(x).scalars == gelu(x).scalars)
        #expect(Activation.relu(x).scalars == relu(x).scalars)
        #expect(Activation.silu(x).scalars == silu(x).scalars)
        let glu = Activation.glu(x)
        #expect(glu.shape == [2, 3])
        let expected = (0..<2).flatMap { r in (0..<3).map { c in x[r, c] / (1 + Float(Foundation.exp(-Double(x[r, c + 3])))) } }
        #expect(isClose(glu.scalars, expected, relativeTolerance: 1e-5))
        expectGradientsMatch([x], "gatedLinearUnit") { gatedLinearUnit($0[0]) }
    }

    @Test("a chunked feed-forward gives the unchunked outputs and gradients", arguments: [1, 4, 9])
    func chunkedFeedForward(_ chunk: Int) {
        var generator = RandomGenerator(seed: 225)
        let whole = FeedForward(dimensions: 3, hiddenDimensions: 8, generator: &generator)
        let chunked = FeedForward(dimensions: 3, hiddenDimensions: 8, chunkLength: chunk, generator: &generator)
        try! chunked.update(parameters: whole.parameterValues())
        let x = randomTensor([2, 9, 3], seed: 226)
        #expect(isClose(chunked(x).scalars, whole(x).scalars, relativeTolerance: 1e-6))
        let (_, wholeGradients) = valueAndGradient(model: whole) { (f: FeedForward) in (f(x) * f(x)).sum() }
        let (_, chunkedGradients) = valueAndGradient(model: chunked) { (f: FeedForward) in (f(x) * f(x)).sum() }
        for (key, gradient) in wholeGradients {
            #expect(isClose(chunkedGradients[key]!.scalars, gradient.scalars, relativeTolerance: 1e-5), "\(key)")
        }
    }

    @Test func feedForwardDropoutOnlyInTraining() {
        var generator = RandomGenerator(seed: 223)
        let block = FeedForward(dimensions: 3, hiddenDimensions: 64, activation: .relu,
                                dropout: Dropout(probability: 0.5, source: RandomSource(seed: 2)), generator: &generator)
        let x = randomTensor([1, 3], seed: 224)
        let trained = block(x), again = block(x)
        #expect(trained.scalars != again.scalars, "dropout draws a new mask each call")
        block.eval()
        #expect(block(x).scalars == block.output(relu(block.input(x))).scalars)
    }
}
