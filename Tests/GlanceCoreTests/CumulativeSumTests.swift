import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct CumulativeSumTests {
    @Test(arguments: [0, 1, 2], [false, true])
    func matchesNaiveRunningSums(_ axis: Int, _ reverse: Bool) {
        let x = randomTensor([3, 4, 18], seed: 111)
        let y = x.cumulativeSum(alongAxis: axis, reverse: reverse)
        #expect(y.shape == x.shape)
        let extent = x.shape[axis]
        var expected = [Float](repeating: 0, count: x.count)
        for offset in 0..<x.count {
            var index = multiIndex(offset, shape: x.shape)
            let position = index[axis]
            var total = 0.0
            for e in (reverse ? Array(position..<extent) : Array(0...position)) {
                index[axis] = e
                total += Double(x.scalars[flatOffset(index, shape: x.shape)])
            }
            expected[offset] = Float(total)
        }
        #expect(isClose(y.scalars, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test func simpleValues() {
        let x = Tensor([1, 2, 3, 4])
        #expect(x.cumulativeSum(alongAxis: 0).scalars == [1, 3, 6, 10])
        #expect(x.cumulativeSum(alongAxis: -1, reverse: true).scalars == [10, 9, 7, 4])
    }

    @Test(arguments: [0, 1, -1], [false, true])
    func gradientMatchesFiniteDifferences(_ axis: Int, _ reverse: Bool) {
        let x = randomTensor([3, 4, 2], seed: 112)
        expectGradientsMatch([x], "cumulativeSum axis \(axis) reverse \(reverse)") { $0[0].cumulativeSum(alongAxis: axis, reverse: reverse) }
    }
}
