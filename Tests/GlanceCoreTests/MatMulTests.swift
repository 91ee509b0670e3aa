import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Triple-loop reference of `op(a) · op(b)` over the batch axes (b may be a shared matrix).
func naiveMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let ar = a.shape[a.rank - 2], ac = a.shape[a.rank - 1], br = b.shape[b.rank - 2], bc = b.shape[b.rank - 1]
    let m = transposeA ? ac : ar, k = transposeA ? ar : ac, n = transposeB ? br : bc
    let shared = b.rank == 2
    let av = a.scalars, bv = b.scalars
    var out = [Float](repeating: 0, count: batch * m * n)
    for p in 0..<batch {
        let ao = p * ar * ac, bo = shared ? 0 : p * br * bc
        for i in 0..<m {
            for j in 0..<n {
                var total = 0.0
                for l in 0..<k {
                    let x = transposeA ? av[ao + l * ac + i] : av[ao + i * ac + l]
                    let y = transposeB ? bv[bo + j * bc + l] : bv[bo + l * bc + j]
                    total += Double(x) * Double(y)
                }
                out[(p * m + i) * n + j] = Float(total)
            }
        }
    }
    return Tensor(out, shape: batchShape + [m, n])
}

let transposeCombinations: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

/// Shape of `op(x)` stored so that after the transpose it is [..., rows, columns].
func stored(_ batch: [Int], _ rows: Int, _ columns: Int, transposed: Bool) -> [Int] {
    batch + (transposed ? [columns, rows] : [rows, columns])
}

@Suite struct MatMulTests {
    @Test(arguments: transposeCombinations)
    func matrixProductMatchesTripleLoop(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        let a = randomTensor(stored([], 5, 7, transposed: ta), seed: 71)
        let b = randomTensor(stored([], 7, 3, transposed: tb), seed: 72)
        let y = a.matmul(b, transposeSelf: ta, transposeOther: tb)
        #expect(y.shape == [5, 3])
        #expect(relativeError(y, naiveMatmul(a, b, transposeA: ta, transposeB: tb)) < 1e-6)
        expectGradientsMatch([a, b], "matmul \(transposes)") { $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb) }
    }

    @Test(arguments: transposeCombinations)
    func batchedProductMatchesTripleLoop(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        let a = randomTensor(stored([2, 3], 4, 5, transposed: ta), seed: 73)
        let b = randomTensor(stored([2, 3], 5, 2, transposed: tb), seed: 74)
        let y = a.matmul(b, transposeSelf: ta, transposeOther: tb)
        #expect(y.shape == [2, 3, 4, 2])
        #expect(relativeError(y, naiveMatmul(a, b, transposeA: ta, transposeB: tb)) < 1e-6)
        expectGradientsMatch([a, b], "batched matmul \(transposes)") { $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb) }
    }

    @Test(arguments: transposeCombinations)
    func sharedRightOperandMatchesTripleLoop(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        let a = randomTensor(stored([3], 4, 5, transposed: ta), seed: 75)
        let b = randomTensor(stored([], 5, 6, transposed: tb), seed: 76)
        let y = a.matmul(b, transposeSelf: ta, transposeOther: tb)
        #expect(y.shape == [3, 4, 6])
        #expect(relativeError(y, naiveMatmul(a, b, transposeA: ta, transposeB: tb)) < 1e-6)
        expectGradientsMatch([a, b], "shared right operand \(transposes)") { $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb) }
    }

    @Test func sharedRightOperandWithSeveralBatchAxes() {
        let a = randomTensor([2, 2, 3, 4], seed: 77), b = randomTensor([4, 3], seed: 78)
        #expect(relativeError(a.matmul(b), naiveMatmul(a, b)) < 1e-6)
        expectGradientsMatch([a, b], "rank-4 · shared matrix") { $0[0].matmul($0[1]) }
    }

    @Test(arguments: transposeCombinations)
    func largeProductsSplitAcrossWorkers(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        // Rows of C split (m ≥ n) and columns split (few rows): both above the threshold 2^18.
        for (m, n, k) in [(96, 64, 64), (4, 512, 160)] {
            let a = randomTensor(stored([], m, k, transposed: ta), seed: 79)
            let b = randomTensor(stored([], k, n, transposed: tb), seed: 80)
            #expect(relativeError(a.matmul(b, transposeSelf: ta, transposeOther: tb), naiveMatmul(a, b, transposeA: ta, transposeB: tb)) < 1e-5,
                    "m \(m) n \(n) k \(k)")
        }
    }

    @Test func manySmallProductsSpreadOverWorkers() {
        let a = randomTensor([37, 3, 5], seed: 81), b = randomTensor([37, 5, 4], seed: 82)
        #expect(relativeError(a.matmul(b), naiveMatmul(a, b)) < 1e-6)
        #expect(relativeError(a.matmul(b.transposed(), transposeOther: true), naiveMatmul(a, b)) < 1e-6)
    }

    @Test func emptyInnerDimensionGivesZeros() {
        let a = Tensor.zeros([3, 0]), b = Tensor.zeros([0, 2])
        #expect(a.matmul(b).scalars == [0, 0, 0, 0, 0, 0])
    }

    @Test func blasAccumulatesWithAlphaAndBeta() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c: [Float] = [1, 1, 1, 1]
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 2, alpha: 2, a: pa.baseAddress!, lda: 2,
                               b: pb.baseAddress!, ldb: 2, beta: 0.5, c: pc.baseAddress!, ldc: 2)
                }
            }
        }
        #expect(c == [38.5, 44.5, 86.5, 100.5])
    }

    // MARK: Affine map

    @Test(arguments: [[5], [4, 5], [2, 3, 5]], [true, false])
    func affineMatchesReference(_ inputShape: [Int], _ withBias: Bool) {
        var random = TestRandom(seed: 83)
        let x = random.normal(inputShape), w = random.normal([3, 5]), b = withBias ? random.normal([3]) : nil
        let y = affine(x, weight: w, bias: b)
        #expect(y.shape == Array(inputShape.dropLast()) + [3])
        var expected = naiveMatmul(x.reshaped(to: [-1, 5]), w, transposeB: true)
        if let b { expected = expected + b }
        #expect(relativeError(y.reshaped(to: [-1, 3]), expected) < 1e-6)
        var points = [x, w]
        if let b { points.append(b) }
        expectGradientsMatch(points, "affine \(inputShape) bias \(withBias)") { p in affine(p[0], weight: p[1], bias: withBias ? p[2] : nil) }
    }

    @Test func affineSplitsLargeProductsAndKeepsTheBias() {
        var random = TestRandom(seed: 84)
        let x = random.normal([96, 64]), w = random.normal([64, 64]), b = random.normal([64])
        let expected = naiveMatmul(x, w, transposeB: true) + b
        #expect(relativeError(affine(x, weight: w, bias: b), expected) < 1e-5)
        let few = random.normal([4, 256]), wide = random.normal([300, 256]), bias = random.normal([300])
        #expect(relativeError(affine(few, weight: wide, bias: bias), naiveMatmul(few, wide, transposeB: true) + bias) < 1e-5)
    }

    @Test func affineGradientsOnlyWhereRequired() {
        let x = randomTensor([2, 3], seed: 85), w = randomTensor([4, 3], seed: 86).requiringGradient(), b = randomTensor([4], seed: 87)
        let y = affine(x, weight: w, bias: b)
        #expect(y.requiresGradient)
        let grads = gradients(of: y.sum(), withRespectTo: [w])
        // d Σ(x·Wᵀ)/dW[o, i] = Σ_r x[r, i]
        let columnSums = (0..<3).map { i in x[0, i] + x[1, i] }
        #expect(isClose(grads[0].scalars, (0..<4).flatMap { _ in columnSums }, relativeTolerance: 1e-6))
        #expect(!affine(x, weight: randomTensor([4, 3], seed: 88), bias: nil).requiresGradient)
    }
}
