import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The Conformer encoder's relative-position self-attention: its limit case (u = v = 0 and
/// W_pos = 0 is full attention), the score formula with the 2T − 1 distances computed naively,
/// finite-difference gradients, the encodings and the registry. Parity with transformers'
/// Parakeet block is in GlanceModelsTests/ParakeetCheckpointTests.
@Suite struct RelativePositionSelfAttentionTests {
    static func makeLayer(width: Int = 8, heads: Int = 2, seed: UInt64) throws -> RelativePositionSelfAttention {
        var generator = RandomGenerator(seed: seed)
        let layer = try RelativePositionSelfAttention(modelDimensions: width, heads: heads, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        try layer.update(parameters: ["contentBias": random.normal([heads, width / heads], standardDeviation: 0.5),
                                      "positionBias": random.normal([heads, width / heads], standardDeviation: 0.5),
                                      "query.bias": random.normal([width], standardDeviation: 0.3),
                                      "key.bias": random.normal([width], standardDeviation: 0.3)], requireAll: false)
        return layer
    }

    @Test("limit case: u = v = 0 and W_pos = 0 is full bidirectional attention with the same projections")
    func fullAttentionLimit() throws {
        let (width, heads) = (12, 3)
        let layer = try Self.makeLayer(width: width, heads: heads, seed: 1)
        try layer.update(parameters: ["contentBias": .zeros([heads, 4]), "positionBias": .zeros([heads, 4]),
                                      "position.weight": .zeros([width, width])], requireAll: false)
        var generator = RandomGenerator(seed: 2)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        var values: [String: Tensor] = [:]
        for name in ["query", "key", "value", "output"] {
            values["\(name).weight"] = layer.parameterValues()["\(name).weight"]!
            values["\(name).bias"] = layer.parameterValues()["\(name).bias"]!
        }
        try full.update(parameters: values)
        let x = randomTensor([2, 7, width], seed: 3)
        let mask = AttentionMask(keyPadding: [[true, true, true, true, true, true, true], [true, true, true, true, false, false, false]])
        let expected = withoutGradients { full(x, mask: mask) }
        let actual = withoutGradients { layer(x, mask: mask) }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("scores are ((q_i + u)·k_j + (q_i + v)·W_pos p(i − j)) / √d_head over all keys, computed naively")
    func naiveScores() throws {
        let (n, width, heads) = (6, 8, 2)
        let size = width / heads
        let layer = try Self.makeLayer(width: width, heads: heads, seed: 4)
        let x = randomTensor([1, n, width], seed: 5)
        let actual = withoutGradients { layer(x, mask: .none) }
        let p = layer.parameterValues()
        func project(_ name: String, _ input: Tensor) -> [Float] {
            withoutGradients { affine(input, weight: p["\(name).weight"]!, bias: p["\(name).bias"]) }.scalars
        }
        let (q, k, v) = (project("query", x), project("key", x), project("value", x))
        let encodings = encoderRelativeEncodings(length: n, dimensions: width)
        let r = withoutGradients { encodings.encodings.matmul(p["position.weight"]!, transposeOther: true) }.scalars
        let (u, bv) = (p["contentBias"]!.scalars, p["positionBias"]!.scalars)
        var merged = [Float](repeating: 0, count: n * width)
        for h in 0..<heads {
            for i in 0..<n {
                var scores = [Double](repeating: 0, count: n)
                for j in 0..<n {
                    let row = n - 1 - (i - j)  // distance i − j
                    var s = 0.0
                    for e in 0..<size {
                        let qi = Double(q[i * width + h * size + e])
                        s += (qi + Double(u[h * size + e])) * Double(k[j * width + h * size + e])
                        s += (qi + Double(bv[h * size + e])) * Double(r[row * width + h * size + e])
                    }
                    scores[j] = s / Double(size).squareRoot()
                }
                let top = scores.max()!
                let weights = scores.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                for e in 0..<size {
                    var sum = 0.0
                    for j in 0..<n { sum += weights[j] / total * Double(v[j * width + h * size + e]) }
                    merged[i * width + h * size + e] = Float(sum)
                }
            }
        }
        let expected = withoutGradients { affine(Tensor(merged, shape: [1, n, width]), weight: p["output.weight"]!, bias: p["output.bias"]) }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
    }

    @Test("gradients of the input and every parameter match finite differences", arguments: [false, true])
    func gradientCheck(_ padded: Bool) throws {
        let layer = try Self.makeLayer(width: 6, heads: 2, seed: 6)
        let parameters = layer.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let mask = AttentionMask(keyPadding: padded ? [[true, true, true, true, true], [true, true, true, false, false]] : nil)
        let report = checkGradients(at: [randomTensor([2, 5, 6], seed: 7)] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer.attend(t[0], context: AttentionContext(mask: mask)).output
        }
        #expect(report.passed, "padded \(padded)\n\(report)")
    }

    @Test("the encodings run over distances T − 1 … −(T − 1) as interleaved [sin, cos]")
    func encodings() {
        let e = encoderRelativeEncodings(length: 3, dimensions: 4)
        #expect(e.largestDistance == 2 && e.smallestDistance == -2 && e.encodings.shape == [5, 4])
        #expect(isClose(e.encodings.sliced(alongAxis: 0, 0..<1).scalars, [sin(2), cos(2), sin(0.02), cos(0.02)]))
        #expect(isClose(e.encodings.sliced(alongAxis: 0, 2..<3).scalars, [0, 1, 0, 1]))
        #expect(isClose(e.encodings.sliced(alongAxis: 0, 4..<5).scalars, [sin(-2), cos(-2), sin(-0.02), cos(-0.02)]))
    }

    @Test("the registry builds 'relative_position'; an odd width is refused naming d_model")
    func registry() throws {
        #expect(AttentionRegistry.names.contains("relative_position"))
        var generator = RandomGenerator(seed: 0)
        let layer = try RelativePositionOptions().make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 16),
                                                       build: AttentionBuild(required: .bidirectional), generator: &generator)
        #expect(layer is RelativePositionSelfAttention)
        #expect(throws: AttentionConfigurationError.self) {
            try RelativePositionOptions().validate(for: AttentionShape(modelDimensions: 9, heads: 3, maximumLength: 16))
        }
    }
}
