import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

enum BinaryOperator: String, CaseIterable, Sendable, CustomStringConvertible {
    case add, subtract, multiply, divide
    var description: String { rawValue }

    func apply(_ a: Tensor, _ b: Tensor) -> Tensor {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }

    func reference(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }
}

/// Operand shapes that broadcast, covering merged dimensions, stride-0 inner dimensions
/// wider than one SIMD vector, rank-0 and rank-1 scalars, and operands of different rank.
let broadcastShapePairs: [([Int], [Int])] = [
    ([2, 3], [2, 3]),
    ([2, 3, 4], [4]),
    ([2, 3, 4], [3, 1]),
    ([2, 1, 4], [1, 3, 1]),
    ([], [2, 3]),
    ([2, 3], []),
    ([1], [2, 3]),
    ([3, 1, 17], [1, 4, 1]),
    ([2, 20], [2, 1]),
    ([1, 1], [4, 1]),
    ([4, 1, 3], [4, 5, 3]),
]

@Suite struct BroadcastTests {
    @Test func broadcastShapeFollowsNumPyRules() {
        #expect(broadcastShape([2, 3, 4], [4]) == [2, 3, 4])
        #expect(broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
        #expect(broadcastShape([], [5, 2]) == [5, 2])
        #expect(broadcastShape([1], []) == [1])
        #expect(broadcastShape([0, 3], [1, 3]) == [0, 3])
        #expect(broadcastShape([2, 3], [3, 2]) == nil)
        #expect(broadcastShape([4], [5]) == nil)
    }

    @Test(arguments: BinaryOperator.allCases, broadcastShapePairs)
    func forwardMatchesNaiveBroadcast(_ op: BinaryOperator, _ shapes: ([Int], [Int])) {
        var random = TestRandom(seed: 21)
        let a = random.uniform(shapes.0, in: -2...2)
        let b = op == .divide ? random.awayFromZero(shapes.1, magnitude: 0.5...2) : random.uniform(shapes.1, in: -2...2)
        let output = broadcastShape(shapes.0, shapes.1)!
        let y = op.apply(a, b)
        #expect(y.shape == output)
        let x1 = naiveBroadcast(a.scalars, from: a.shape, to: output), x2 = naiveBroadcast(b.scalars, from: b.shape, to: output)
        let expected = zip(x1, x2).map { op.reference($0, $1) }
        #expect(isClose(y.scalars, expected, relativeTolerance: 1e-6, absoluteTolerance: 0))
    }

    @Test(arguments: BinaryOperator.allCases, broadcastShapePairs)
    func gradientsSumOverBroadcastAxes(_ op: BinaryOperator, _ shapes: ([Int], [Int])) {
        var random = TestRandom(seed: 22)
        let a = random.uniform(shapes.0, in: -2...2)
        let b = op == .divide ? random.awayFromZero(shapes.1, magnitude: 0.5...2) : random.uniform(shapes.1, in: -2...2)
        expectGradientsMatch([a, b], "\(op) \(shapes.0) \(shapes.1)") { op.apply($0[0], $0[1]) }
    }

    @Test func largeBroadcastRunsInParallelAndMatches() {
        var random = TestRandom(seed: 23)
        let a = random.uniform([300, 1, 37]), b = random.uniform([1, 9, 37])
        let y = a * b + b
        let x1 = naiveBroadcast(a.scalars, from: a.shape, to: [300, 9, 37]), x2 = naiveBroadcast(b.scalars, from: b.shape, to: [300, 9, 37])
        #expect(isClose(y.scalars, zip(x1, x2).map { $0 * $1 + $1 }, relativeTolerance: 1e-6))
    }

    @Test func floatOperandOverloads() {
        let x = Tensor([1, -2, 4])
        #expect((x + 2).scalars == [3, 0, 6])
        #expect((2 + x).scalars == [3, 0, 6])
        #expect((x - 3).scalars == [-2, -5, 1])
        #expect((3 - x).scalars == [2, 5, -1])
        #expect((x * 2.5).scalars == [2.5, -5, 10])
        #expect((2.5 * x).scalars == [2.5, -5, 10])
        #expect((x / 4).scalars == [0.25, -0.5, 1])
        #expect((4 / x).scalars == [4, -2, 1])
        #expect((-x).scalars == [-1, 2, -4])
    }

    @Test func floatOperandGradients() {
        var random = TestRandom(seed: 24)
        let x = random.awayFromZero([2, 3], magnitude: 0.5...2)
        expectGradientsMatch([x], "x + 2") { $0[0] + 2 }
        expectGradientsMatch([x], "2 + x") { 2 + $0[0] }
        expectGradientsMatch([x], "x - 3") { $0[0] - 3 }
        expectGradientsMatch([x], "3 - x") { 3 - $0[0] }
        expectGradientsMatch([x], "x * 2.5") { $0[0] * 2.5 }
        expectGradientsMatch([x], "2.5 * x") { 2.5 * $0[0] }
        expectGradientsMatch([x], "x / 4") { $0[0] / 4 }
        expectGradientsMatch([x], "4 / x") { 4 / $0[0] }
        expectGradientsMatch([x], "-x") { -$0[0] }
        expectGradientsMatch([Tensor(scalar: 0.7)], "rank-0 times 3") { $0[0] * 3 }
    }

    @Test func compoundAssignments() {
        var x = Tensor([1, 2])
        x += Tensor([10, 20])
        #expect(x.scalars == [11, 22])
        x -= Tensor([1])
        #expect(x.scalars == [10, 21])
        x *= Tensor([2, 3])
        #expect(x.scalars == [20, 63])
        x *= 0.5
        #expect(x.scalars == [10, 31.5])
        expectGradientsMatch([Tensor([0.5, -1.5]), Tensor([2])], "compound assignments") { v in
            var y = v[0]
            y += v[1]
            y *= v[0]
            y -= v[1]
            y *= 3
            return y
        }
    }

    @Test func unbroadcastSumsLeadingAndUnitAxes() {
        let g = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(g.unbroadcast(to: [2, 3, 4]).scalars == g.scalars)
        let toRow = g.unbroadcast(to: [4])
        #expect(toRow.shape == [4] && toRow.scalars == [60, 66, 72, 78])
        let toColumn = g.unbroadcast(to: [3, 1])
        #expect(toColumn.shape == [3, 1] && toColumn.scalars == [60, 92, 124])
        #expect(g.unbroadcast(to: []).item() == 276)
    }
}
