import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Softmax of each row (last axis) in Double; fully −∞ rows give zeros.
func referenceSoftmax(_ x: Tensor) -> [Double] {
    let width = x.shape.last!
    let v = doubles(x)
    var out: [Double] = []
    for r in 0..<(x.count / width) {
        let row = v[(r * width)..<((r + 1) * width)]
        let peak = row.max()!
        guard peak > -.infinity else { out += row.map { _ in 0 }; continue }
        let e = row.map { Foundation.exp($0 - peak) }
        let total = e.reduce(0, +)
        out += e.map { $0 / total }
    }
    return out
}

@Suite struct SoftmaxTests {
    @Test(arguments: [1, 5, 16, 21, 40])
    func softmaxMatchesDoubleReference(_ width: Int) {
        let x = randomTensor([3, width], seed: 91, standardDeviation: 3)
        let y = x.softmax()
        let expected = referenceSoftmax(x)
        #expect(isClose(y.scalars, expected.map(Float.init), relativeTolerance: 2e-6, absoluteTolerance: 1e-7))
        for r in 0..<3 {
            let total = y.scalars[(r * width)..<((r + 1) * width)].reduce(0.0) { $0 + Double($1) }
            #expect(Swift.abs(total - 1) < 1e-6)
        }
    }

    @Test func softmaxIsShiftInvariantAndStable() {
        let x = randomTensor([2, 19], seed: 92)
        let shifted = (x + 5000).softmax()
        #expect(shifted.scalars.allSatisfy { $0.isFinite })
        #expect(isClose(shifted.scalars, x.softmax().scalars, relativeTolerance: 1e-3, absoluteTolerance: 1e-6))
        let extreme = Tensor([1e30, 0, -1e30]).softmax().scalars
        #expect(extreme == [1, 0, 0])
    }

    @Test func maskedEntriesAndFullyMaskedRows() {
        let x = Tensor([1, -.infinity, 2, -.infinity,
                        -.infinity, -.infinity, -.infinity, -.infinity,
                        0, 0, -.infinity, 0], shape: [3, 4])
        let y = x.softmax()
        #expect(isClose(y.scalars, referenceSoftmax(x).map(Float.init), relativeTolerance: 2e-6, absoluteTolerance: 1e-7))
        #expect(y.scalars[1] == 0 && y.scalars[3] == 0)
        #expect(Array(y.scalars[4..<8]) == [0, 0, 0, 0])
        let third: Float = 1.0 / 3
        let lastRow: [Float] = [third, third, 0, third]
        #expect(isClose(Array(y.scalars[8..<12]), lastRow, relativeTolerance: 1e-6))
    }

    @Test(arguments: [0, 1])
    func softmaxAlongAnotherAxis(_ axis: Int) {
        let x = randomTensor([3, 4, 5], seed: 93)
        let y = x.softmax(alongAxis: axis)
        let moved = x.transposed(axis, -1)
        let expected = Tensor(referenceSoftmax(moved).map(Float.init), shape: moved.shape).transposed(axis, -1)
        #expect(isClose(y, expected, relativeTolerance: 2e-6, absoluteTolerance: 1e-7))
    }

    @Test(arguments: [-1, 0, 1])
    func logSoftmaxMatchesDoubleReference(_ axis: Int) {
        let x = randomTensor([3, 4, 18], seed: 94, standardDeviation: 4)
        let y = x.logSoftmax(alongAxis: axis)
        let moved = x.transposed(axis, -1)
        let expected = Tensor(referenceSoftmax(moved).map { Float(Foundation.log($0)) }, shape: moved.shape).transposed(axis, -1)
        #expect(isClose(y, expected, relativeTolerance: 1e-5, absoluteTolerance: 2e-6))
        // Very negative log-probabilities stay accurate (no log of an underflowed softmax).
        let wide = Tensor([0, -200, 100]).logSoftmax().scalars
        #expect(isClose(wide, [-100, -300, 0], relativeTolerance: 1e-6))
    }

    @Test func rowKernelReturnsTheNormalizer() {
        var row: [Float] = (0..<37).map { Float($0) * 0.1 - 1 }
        let expected = Foundation.log(row.map { Foundation.exp(Double($0)) }.reduce(0, +))
        let normalizer = row.withUnsafeMutableBufferPointer { softmaxRowInPlace($0.baseAddress!, $0.count) }
        #expect(Swift.abs(Double(normalizer) - expected) < 1e-5)
        #expect(Swift.abs(row.reduce(0.0) { $0 + Double($1) } - 1) < 1e-6)
        var masked: [Float] = [-.infinity, -.infinity]
        let none = masked.withUnsafeMutableBufferPointer { softmaxRowInPlace($0.baseAddress!, 2) }
        #expect(none == -.infinity && masked == [0, 0])
    }

    @Test(arguments: [3, 16, 35])
    func exponentiateRowReturnsTheSum(_ count: Int) {
        var row: [Float] = (0..<count).map { Float($0) * 0.3 - 2 }
        row[1] = -.infinity
        let original = row
        let total = row.withUnsafeMutableBufferPointer { exponentiateRow($0.baseAddress!, count, shift: 1.5) }
        let expected = original.map { Foundation.exp(Double($0) - 1.5) }
        #expect(isClose(row, expected.map(Float.init), relativeTolerance: 1e-6, absoluteTolerance: 0))
        #expect(row[1] == 0)
        #expect(Swift.abs(Double(total) - expected.reduce(0, +)) < 1e-5 * expected.reduce(0, +))
    }

    // MARK: Gradients

    @Test func softmaxGradientLastAxisWithMask() {
        var x = randomTensor([4, 21], seed: 95, standardDeviation: 2)
        x.withUnsafeMutableBufferPointer { v in
            for i in [3, 7, 8, 40, 41, 62] { v[i] = -.infinity }
            for i in 63..<84 { v[i] = -.infinity }  // a fully masked row
        }
        expectGradientsMatch([x], "softmax last axis, masked") { $0[0].softmax() }
    }

    @Test(arguments: [0, 1])
    func softmaxGradientOtherAxis(_ axis: Int) {
        var x = randomTensor([3, 4, 5], seed: 96)
        x.withUnsafeMutableBufferPointer { $0[6] = -.infinity; $0[27] = -.infinity }
        expectGradientsMatch([x], "softmax axis \(axis), masked") { $0[0].softmax(alongAxis: axis) }
    }

    @Test(arguments: [-1, 0, 1])
    func logSoftmaxGradient(_ axis: Int) {
        let x = randomTensor([3, 4, 6], seed: 97, standardDeviation: 2)
        expectGradientsMatch([x], "logSoftmax axis \(axis)") { $0[0].logSoftmax(alongAxis: axis) }
    }
}
