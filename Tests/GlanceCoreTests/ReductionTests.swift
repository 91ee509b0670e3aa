import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Naive reduction of one axis with a Double accumulator.
func naiveReduce(_ x: Tensor, axis: Int, initial: Double, _ combine: (Double, Double) -> Double) -> [Double] {
    let outer = x.shape[..<axis].reduce(1, *), extent = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    let v = x.scalars
    var result: [Double] = []
    for o in 0..<outer {
        for i in 0..<inner {
            var acc = initial
            for e in 0..<extent { acc = combine(acc, Double(v[(o * extent + e) * inner + i])) }
            result.append(acc)
        }
    }
    return result
}

@Suite struct ReductionTests {
    @Test(arguments: [0, 1, 2, -1])
    func sumAlongAxisMatchesNaive(_ axis: Int) {
        let x = randomTensor([3, 4, 19], seed: 31)
        let resolved = axis < 0 ? axis + 3 : axis
        let y = x.sum(alongAxis: axis)
        var expectedShape = x.shape
        expectedShape.remove(at: resolved)
        #expect(y.shape == expectedShape)
        let expected = naiveReduce(x, axis: resolved, initial: 0, +).map(Float.init)
        #expect(isClose(y.scalars, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
        let kept = x.sum(alongAxis: axis, keepingDimensions: true)
        var keptShape = x.shape
        keptShape[resolved] = 1
        #expect(kept.shape == keptShape && kept.scalars == y.scalars)
    }

    @Test func sumOfEverythingAndSeveralAxes() {
        let x = randomTensor([2, 3, 4, 5], seed: 32)
        let total = x.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(Swift.abs(Double(x.sum().item()) - total) < 1e-4)
        #expect(x.sum().shape == [])
        let y = x.sum(alongAxes: [1, 3])
        #expect(y.shape == [2, 4])
        let expected = naiveReduce(Tensor(naiveReduce(x, axis: 3, initial: 0, +).map(Float.init), shape: [2, 3, 4]), axis: 1, initial: 0, +)
        #expect(isClose(y.scalars, expected.map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
        #expect(x.sum(alongAxes: [3, -3], keepingDimensions: true).shape == [2, 1, 4, 1])
        #expect(x.sum(alongAxes: [0, 1, 2, 3]).shape == [])
    }

    @Test func largeSumsSplitAcrossThreads() {
        let x = randomTensor([1000, 100], seed: 33)
        #expect(isClose(x.sum(alongAxis: 1).scalars, naiveReduce(x, axis: 1, initial: 0, +).map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-4))
        #expect(isClose(x.sum(alongAxis: 0).scalars, naiveReduce(x, axis: 0, initial: 0, +).map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-4))
    }

    @Test func meanAndVarianceMatchDoubleReference() {
        let x = randomTensor([4, 6], seed: 34, standardDeviation: 3)
        let v = doubles(x)
        let mean = v.reduce(0, +) / 24
        #expect(Swift.abs(Double(x.mean().item()) - mean) < 1e-5)
        let columnMeans = naiveReduce(x, axis: 0, initial: 0, +).map { $0 / 4 }
        #expect(isClose(x.mean(alongAxes: [0]).scalars, columnMeans.map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
        var variances = [Double](repeating: 0, count: 6)
        for c in 0..<6 {
            for r in 0..<4 {
                let d: Double = v[r * 6 + c] - columnMeans[c]
                variances[c] += d * d / 4
            }
        }
        let variance = x.variance(alongAxes: [0], keepingDimensions: true)
        #expect(variance.shape == [1, 6])
        #expect(isClose(variance.scalars, variances.map(Float.init), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
        let all = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 24
        #expect(isClose(x.variance(alongAxes: [0, 1]).item(), Float(all), relativeTolerance: 1e-5))
    }

    @Test(arguments: [0, 1, 2])
    func maxAndArgmaxMatchNaive(_ axis: Int) {
        var random = TestRandom(seed: 35)
        let x = random.distinct([3, 5, 4])
        let y = x.max(alongAxis: axis)
        #expect(isClose(y.scalars, naiveReduce(x, axis: axis, initial: -.infinity, Swift.max).map(Float.init), relativeTolerance: 0, absoluteTolerance: 0))
        let indices = x.argmax(alongAxis: axis)
        let values = x.scalars
        let outer = x.shape[..<axis].reduce(1, *), extent = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                #expect(values[(o * extent + indices[o * inner + i]) * inner + i] == y.scalars[o * inner + i])
            }
        }
        #expect(x.max() == x.scalars.max()!)
    }

    @Test(arguments: [0, 1, 2])
    func maxOfLargeTensorsSplitAcrossThreads(_ axis: Int) {
        // 33 × 70 × 37: every axis has parallel work, rows that are not a multiple of 16, and ties.
        var random = TestRandom(seed: 36)
        let x = random.uniform([33, 70, 37], in: -4...4).mapped { ($0 * 4).rounded(.down) }
        let y = x.max(alongAxis: axis)
        #expect(y.scalars == naiveReduce(x, axis: axis, initial: -.infinity, Swift.max).map(Float.init))
        let indices = x.argmax(alongAxis: axis), values = x.scalars
        let outer = x.shape[..<axis].reduce(1, *), extent = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let first = (0..<extent).first { values[(o * extent + $0) * inner + i] == y.scalars[o * inner + i] }
                #expect(indices[o * inner + i] == first, "the first maximum at \(o), \(i)")
            }
        }
    }

    @Test func maxTiesPickTheFirstAndGradientGoesThere() {
        let x = Tensor([1, 3, 3, -1, -1, -1, -Float.infinity, -Float.infinity, -Float.infinity], shape: [3, 3])
        #expect(x.argmax(alongAxis: 1) == [1, 0, 0])
        #expect(x.max(alongAxis: 1).scalars == [3, -1, -.infinity])
        let (_, grads) = valueAndGradient(at: [x]) { $0[0].max(alongAxis: 1).sum() }
        #expect(grads[0].scalars == [0, 1, 0, 1, 0, 0, 1, 0, 0])
    }

    @Test func logSumExpIsStableAndHandlesMaskedRows() {
        let x = Tensor([1000, 1000, 999, 1, 2, 3, -.infinity, -.infinity, -.infinity, -.infinity, 0, -.infinity], shape: [4, 3])
        let y = x.logSumExp(alongAxis: 1).scalars
        let reference = [1000 + Foundation.log(2 + Foundation.exp(-1.0)), 3 + Foundation.log(1 + Foundation.exp(-1.0) + Foundation.exp(-2.0))]
        #expect(isClose(y[0], Float(reference[0]), relativeTolerance: 1e-6))
        #expect(isClose(y[1], Float(reference[1]), relativeTolerance: 1e-6))
        #expect(y[2] == -.infinity)
        #expect(y[3] == 0)
        #expect(x.logSumExp(alongAxis: 0, keepingDimensions: true).shape == [1, 3])
    }

    // MARK: Gradients

    @Test func sumGradients() {
        let x = randomTensor([2, 3, 4], seed: 36)
        expectGradientsMatch([x], "sum()") { $0[0].sum() }
        expectGradientsMatch([x], "sum(alongAxis: 1)") { $0[0].sum(alongAxis: 1) }
        expectGradientsMatch([x], "sum(alongAxis: -1, keeping)") { $0[0].sum(alongAxis: -1, keepingDimensions: true) }
        expectGradientsMatch([x], "sum(alongAxes: [0, 2])") { $0[0].sum(alongAxes: [0, 2]) }
        expectGradientsMatch([x], "sum(alongAxes: [0, 1], keeping)") { $0[0].sum(alongAxes: [0, 1], keepingDimensions: true) }
        expectGradientsMatch([Tensor(scalar: 1.5)], "sum() of rank 0") { $0[0].sum() }
    }

    @Test func meanAndVarianceGradients() {
        let x = randomTensor([3, 5], seed: 37)
        expectGradientsMatch([x], "mean()") { $0[0].mean() }
        expectGradientsMatch([x], "mean(alongAxes: [1])") { $0[0].mean(alongAxes: [1]) }
        expectGradientsMatch([x], "mean(alongAxes: [0], keeping)") { $0[0].mean(alongAxes: [0], keepingDimensions: true) }
        expectGradientsMatch([x], "variance(alongAxes: [1])") { $0[0].variance(alongAxes: [1]) }
        expectGradientsMatch([x], "variance(alongAxes: [0, 1], keeping)") { $0[0].variance(alongAxes: [0, 1], keepingDimensions: true) }
    }

    @Test(arguments: [0, 1, -1])
    func maxGradient(_ axis: Int) {
        var random = TestRandom(seed: 38)
        let x = random.distinct([3, 4, 5])
        expectGradientsMatch([x], "max(alongAxis: \(axis))") { $0[0].max(alongAxis: axis) }
        expectGradientsMatch([x], "max(alongAxis: \(axis), keeping)") { $0[0].max(alongAxis: axis, keepingDimensions: true) }
    }

    @Test(arguments: [0, 1])
    func logSumExpGradient(_ axis: Int) {
        let x = randomTensor([3, 6], seed: 39, standardDeviation: 2)
        expectGradientsMatch([x], "logSumExp(alongAxis: \(axis))") { $0[0].logSumExp(alongAxis: axis) }
        expectGradientsMatch([x + 50], "logSumExp(alongAxis: \(axis), keeping) shifted") { $0[0].logSumExp(alongAxis: axis, keepingDimensions: true) }
    }
}
