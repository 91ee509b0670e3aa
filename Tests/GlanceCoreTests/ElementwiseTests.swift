import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// The differentiable unary functions, with a Double reference and a safe input domain.
enum UnaryFunction: String, CaseIterable, Sendable, CustomStringConvertible {
    case exp, log, sqrt, tanh, sigmoid, relu, gelu, silu, abs, squared, negated
    case cube, power, reciprocal

    var description: String { rawValue }

    func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .exp: GlanceCore.exp(x)
        case .log: GlanceCore.log(x)
        case .sqrt: GlanceCore.sqrt(x)
        case .tanh: GlanceCore.tanh(x)
        case .sigmoid: GlanceCore.sigmoid(x)
        case .relu: GlanceCore.relu(x)
        case .gelu: GlanceCore.gelu(x)
        case .silu: GlanceCore.silu(x)
        case .abs: GlanceCore.abs(x)
        case .squared: x.squared()
        case .negated: -x
        case .cube: x.raised(to: 3)
        case .power: x.raised(to: 1.5)
        case .reciprocal: 1 / x
        }
    }

    func reference(_ x: Double) -> Double {
        switch self {
        case .exp: Foundation.exp(x)
        case .log: Foundation.log(x)
        case .sqrt: x.squareRoot()
        case .tanh: Foundation.tanh(x)
        case .sigmoid: 1 / (1 + Foundation.exp(-x))
        case .relu: Swift.max(x, 0)
        case .gelu: 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
        case .silu: x / (1 + Foundation.exp(-x))
        case .abs: Swift.abs(x)
        case .squared: x * x
        case .negated: -x
        case .cube: x * x * x
        case .power: Foundation.pow(x, 1.5)
        case .reciprocal: 1 / x
        }
    }

    /// Inputs where the function is smooth and finite differences are meaningful.
    func gradientInput(_ random: inout TestRandom, _ shape: [Int]) -> Tensor {
        switch self {
        case .log, .sqrt, .power: random.uniform(shape, in: 0.5...2)
        case .relu, .abs, .reciprocal: random.awayFromZero(shape, magnitude: 0.3...2)
        case .exp: random.uniform(shape, in: -2...2)
        default: random.uniform(shape, in: -3...3)
        }
    }

    /// A wide range of forward inputs.
    func forwardInput(_ random: inout TestRandom, _ shape: [Int]) -> Tensor {
        switch self {
        case .log, .sqrt, .power: random.uniform(shape, in: 0.01...50)
        case .reciprocal: random.awayFromZero(shape, magnitude: 0.01...50)
        case .exp: random.uniform(shape, in: -80...80)
        default: random.uniform(shape, in: -8...8)
        }
    }
}

@Suite struct ElementwiseTests {
    @Test(arguments: UnaryFunction.allCases)
    func forwardMatchesDoubleReference(_ function: UnaryFunction) {
        var random = TestRandom(seed: 11)
        let x = function.forwardInput(&random, [7, 13])  // 91 elements: SIMD body and a tail
        let y = function.apply(x)
        #expect(y.shape == x.shape)
        let expected = x.scalars.map { Float(function.reference(Double($0))) }
        let worst = zip(y.scalars, expected).map { Swift.abs(Double($0) - Double($1)) / Swift.max(Swift.abs(Double($1)), 1e-3) }.max()!
        #expect(isClose(y.scalars, expected, relativeTolerance: 2e-6, absoluteTolerance: 1e-6), "worst relative error \(worst)")
    }

    @Test(arguments: UnaryFunction.allCases)
    func gradientMatchesFiniteDifferences(_ function: UnaryFunction) {
        var random = TestRandom(seed: 12)
        let x = function.gradientInput(&random, [3, 7])
        expectGradientsMatch([x], function.rawValue) { function.apply($0[0]) }
    }

    @Test(arguments: [UnaryFunction.exp, .sigmoid, .gelu, .silu, .relu, .abs, .sqrt, .log, .tanh, .power])
    func largeTensorsUseEveryThreadAndTail(_ function: UnaryFunction) {
        // More than two parallel grains (1 << 15) and a count that is not a multiple of 16.
        var random = TestRandom(seed: 13)
        let x = [UnaryFunction.sqrt, .log, .power].contains(function) ? random.uniform([70_003], in: 0.001...4) : random.uniform([70_003], in: -4...4)
        let y = function.apply(x)
        let expected = x.scalars.map { Float(function.reference(Double($0))) }
        #expect(isClose(y.scalars, expected, relativeTolerance: 2e-6, absoluteTolerance: 1e-6))
    }

    @Test func expSaturatesWithoutOverflowOrNaN() {
        let x = Tensor([-1000, -88, -87.5, 0, 88, 89, 1000])
        let y = exp(x).scalars
        #expect(y[0] == 0 && y[1] == 0 && y[2] == 0)
        #expect(y[3] == 1)
        #expect(y.allSatisfy { !$0.isNaN })
        #expect(isClose(y[4], Float(Foundation.exp(88.0)), relativeTolerance: 1e-5))
        #expect(exp(Tensor([20])).item() > 4.8e8)
    }

    @Test func sigmoidAndSiluAreStableForLargeInputs() {
        let x = Tensor([-200, -50, 50, 200])
        let s = sigmoid(x).scalars
        #expect(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        #expect(s[0] < 1e-30 && s[2] == 1 && s[3] == 1)
        #expect(isClose(s[1], Float(1 / (1 + Foundation.exp(50.0))), relativeTolerance: 1e-4))
        let y = silu(x).scalars
        #expect(y.allSatisfy { $0.isFinite })
        #expect(isClose(y[3], 200) && Swift.abs(y[0]) < 1e-6)
    }

    @Test func reluAndAbsSubgradientsAtZero() {
        let (_, grads) = valueAndGradient(at: [Tensor([0, 0])]) { x in (relu(x[0]) + abs(x[0])).sum() }
        #expect(grads[0].scalars == [0, 0])
    }

    @Test func raisedToIntegerPowerOfNegativeInputs() {
        var random = TestRandom(seed: 14)
        let x = random.uniform([5], in: -2 ... -0.5)
        #expect(isClose(x.raised(to: 2).scalars, x.scalars.map { $0 * $0 }))
        expectGradientsMatch([x], "raised(to: 3) negative") { $0[0].raised(to: 3) }
        expectGradientsMatch([random.uniform([4], in: 0.5...2)], "raised(to: -0.5)") { $0[0].raised(to: -0.5) }
    }

    @Test func compositeChainGradient() {
        var random = TestRandom(seed: 15)
        let x = random.uniform([2, 5], in: -1...1)
        expectGradientsMatch([x], "tanh(exp(x)·sigmoid(x)) + log(1 + x²)") { v in
            tanh(exp(v[0]) * sigmoid(v[0])) + log(1 + v[0].squared())
        }
    }

    @Test func mappedScalarsAndZippedAreNotRecorded() {
        let x = Tensor([1, 2, 3]).requiringGradient()
        #expect(!x.mappedScalars { $0 + 1 }.requiresGradient)
        #expect(!x.mapped { $0 * 2 }.requiresGradient)
        #expect(!x.zipped(with: x) { $0 + $1 }.requiresGradient)
        #expect(x.zipped(with: Tensor([4, 5, 6])) { $0 * $1 }.scalars == [4, 10, 18])
        #expect(x.mappedScalars { $0 * $0 }.scalars == [1, 4, 9])
    }

    @Test func initializingWithWritesEveryElement() {
        let t = Tensor(shape: [2, 3]) { buffer in for i in buffer.indices { buffer[i] = Float(i) } }
        #expect(t.scalars == [0, 1, 2, 3, 4, 5])
        #expect(t[1, 2] == 5)
        #expect(Tensor(scalar: 3).rank == 0 && Tensor(scalar: 3).item() == 3)
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.arange(3, 0, step: -1).scalars == [3, 2, 1])
        #expect(Tensor.full([2], 7).scalars == [7, 7])
    }
}
