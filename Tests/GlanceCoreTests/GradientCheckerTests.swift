import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// x² with a backward rule scaled by `factor` (1 is correct).
func scaledSquare(_ x: Tensor, factor: Float) -> Tensor {
    let input = x.detached()
    return x.mapped { $0 * $0 }.recorded(from: [x]) { g in [g * input * (2 * factor)] }
}

/// x · w with a backward that forgets to sum the broadcast gradient for w... by returning a
/// gradient for w that ignores all rows but the first.
func wrongBroadcastProduct(_ x: Tensor, _ w: Tensor) -> Tensor {
    let a = x.detached(), b = w.detached()
    return (a * b).detached().recorded(from: [x, w]) { g in
        [g * b, (g * a).sliced(alongAxis: 0, 0..<1).reshaped(to: b.shape)]
    }
}

@Suite struct GradientCheckerTests {
    @Test func acceptsACorrectBackward() {
        let x = randomTensor([3, 4], seed: 141)
        let report = checkGradients(at: [x]) { scaledSquare($0[0], factor: 1) }
        #expect(report.passed, "\(report)")
        #expect(report.worstRatio < defaultGradientTolerance / 10, "noise should be far below the tolerance: \(report)")
    }

    @Test(arguments: [Float(0), 0.5, 0.97, 1.03, 2, -1])
    func rejectsAWrongBackward(_ factor: Float) {
        let x = randomTensor([3, 4], seed: 142)
        let report = checkGradients(at: [x]) { scaledSquare($0[0], factor: factor) }
        #expect(!report.passed, "a backward scaled by \(factor) must be rejected: \(report)")
    }

    @Test func rejectsAGradientWrongInOneElementOnly() {
        let x = randomTensor([2, 5], seed: 143)
        let report = checkGradients(at: [x]) { p in
            let input = p[0].detached()
            return p[0].mapped { $0 * 3 }.recorded(from: [p[0]]) { g in
                var gradient = g * 3
                gradient.withUnsafeMutableBufferPointer { $0[7] *= 1.25 }
                _ = input
                return [gradient]
            }
        }
        #expect(!report.passed)
        #expect(report.comparisons[0].worstIndex == 7, "\(report)")
    }

    @Test func rejectsAWrongGradientOfOneInputAmongSeveral() {
        let x = randomTensor([3, 2], seed: 144), w = randomTensor([2], seed: 145)
        let report = checkGradients(at: [x, w]) { wrongBroadcastProduct($0[0], $0[1]) }
        #expect(!report.passed)
        #expect(report.comparisons[0].passed && !report.comparisons[1].passed, "\(report)")
    }

    @Test func rejectsAForwardThatDiffersWhenRecorded() {
        let x = randomTensor([4], seed: 146)
        let report = checkGradients(at: [x]) { p in
            GradientMode.isRecording ? p[0] * 2 : p[0] * 2.5
        }
        #expect(!report.valueMatches && !report.passed)
    }

    @Test func numericalGradientOfAKnownFunction() {
        let x = Tensor([1, 2])
        let projection = Tensor([1, 1])
        let numeric = numericalGradients(at: [x], step: 1e-3, projection: projection) { p in p[0] * p[0] * p[0] }
        #expect(isClose(numeric[0].scalars, [3, 12], relativeTolerance: 1e-3))
    }

    @Test func comparisonHelpers() {
        #expect(isClose(Float(1), 1.000001))
        #expect(!isClose(Float(1), 1.001))
        #expect(isClose(Float.infinity, .infinity) && !isClose(Float.nan, .nan) && !isClose(Float.infinity, 1e38))
        #expect(isClose(Tensor([1, 2]), Tensor([1, 2.000001])))
        #expect(!isClose(Tensor([1, 2]), Tensor([1, 2], shape: [2, 1])))
        #expect(relativeError([3, 4], [3, 4]) == 0)
        #expect(Swift.abs(relativeError([3, 5], [3, 4]) - 0.2) < 1e-12)
        #expect(relativeError([1, 1], [0, 0]) == 2.0.squareRoot())
        #expect(maxAbsoluteDifference(Tensor([1, 5]), Tensor([2, 3])) == 2)
        #expect(multiIndex(23, shape: [2, 3, 4]) == [1, 2, 3] && flatOffset([1, 2, 3], shape: [2, 3, 4]) == 23)
    }

    @Test func seededMakersAreReproducible() {
        var a = TestRandom(seed: 7), b = TestRandom(seed: 7)
        #expect(a.normal([5]).scalars == b.normal([5]).scalars)
        #expect(a.awayFromZero([50], magnitude: 0.2...1).scalars.allSatisfy { Swift.abs($0) >= 0.2 && Swift.abs($0) <= 1 })
        let distinct = a.distinct([40], spacing: 0.1).scalars.sorted()
        #expect(zip(distinct, distinct.dropFirst()).allSatisfy { $1 - $0 >= 0.1 })
        #expect(a.indices([100], below: 3).values.allSatisfy { (0..<3).contains($0) })
        #expect(randomTensor([3], seed: 1).scalars == randomTensor([3], seed: 1).scalars)
        #expect(randomTensor([3], seed: 1).scalars != randomTensor([3], seed: 2).scalars)
    }
}
