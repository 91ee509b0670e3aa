import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// (x − mean) / √(var + ε) · weight + bias over the last axis, in Double.
func referenceLayerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Double) -> [Float] {
    let width = x.shape.last!
    let v = doubles(x)
    let w = weight.map(doubles), b = bias.map(doubles)
    var out: [Float] = []
    for r in 0..<(x.count / width) {
        let row = Array(v[(r * width)..<((r + 1) * width)])
        let mean = row.reduce(0, +) / Double(width)
        let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
        for j in 0..<width {
            var y = (row[j] - mean) / (variance + epsilon).squareRoot()
            if let w { y *= w[j] }
            if let b { y += b[j] }
            out.append(Float(y))
        }
    }
    return out
}

let affineCombinations: [(Bool, Bool)] = [(true, true), (true, false), (false, true), (false, false)]

@Suite struct LayerNormTests {
    @Test(arguments: affineCombinations)
    func forwardMatchesDoubleReference(_ affine: (Bool, Bool)) {
        var random = TestRandom(seed: 101)
        let x = random.normal([2, 3, 37], mean: 3, standardDeviation: 2)
        let weight = affine.0 ? random.normal([37]) : nil, bias = affine.1 ? random.normal([37]) : nil
        let y = x.layerNormalized(weight: weight, bias: bias, epsilon: 1e-5)
        #expect(y.shape == x.shape)
        #expect(isClose(y.scalars, referenceLayerNorm(x, weight: weight, bias: bias, epsilon: 1e-5), relativeTolerance: 1e-4, absoluteTolerance: 2e-5))
    }

    @Test func constantRowsGiveTheBias() {
        let x = Tensor(shape: [2, 5], repeating: 3)
        let bias = Tensor([1, 2, 3, 4, 5])
        let y = x.layerNormalized(weight: Tensor.full([5], 2), bias: bias, epsilon: 1e-5)
        #expect(y.scalars == bias.scalars + bias.scalars)
    }

    @Test func epsilonEntersTheDenominator() {
        let x = Tensor([-1, 1])
        let y = x.layerNormalized(weight: nil, bias: nil, epsilon: 3)
        #expect(isClose(y.scalars, [-0.5, 0.5], relativeTolerance: 1e-6))
    }

    @Test(arguments: affineCombinations)
    func gradientsMatchFiniteDifferences(_ affine: (Bool, Bool)) {
        var random = TestRandom(seed: 102)
        let x = random.normal([3, 6], mean: 1, standardDeviation: 1.5)
        var points = [x]
        if affine.0 { points.append(random.normal([6])) }
        if affine.1 { points.append(random.normal([6])) }
        expectGradientsMatch(points, "layerNormalized weight \(affine.0) bias \(affine.1)") { p in
            p[0].layerNormalized(weight: affine.0 ? p[1] : nil, bias: affine.1 ? p[affine.0 ? 2 : 1] : nil)
        }
    }

    @Test func gradientOnWideRowsAndRankThree() {
        var random = TestRandom(seed: 103)
        let x = random.normal([2, 2, 19]), w = random.normal([19]), b = random.normal([19])
        expectGradientsMatch([x, w, b], "layerNormalized [2, 2, 19]") { $0[0].layerNormalized(weight: $0[1], bias: $0[2]) }
    }
}
