import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Naive permutation: result[i0, i1, …] = x[i at order positions].
func naivePermute(_ x: Tensor, _ order: [Int]) -> [Float] {
    let newShape = order.map { x.shape[$0] }
    let v = x.scalars
    return (0..<x.count).map { offset in
        let index = multiIndex(offset, shape: newShape)
        var source = [Int](repeating: 0, count: x.rank)
        for (i, axis) in order.enumerated() { source[axis] = index[i] }
        return v[flatOffset(source, shape: x.shape)]
    }
}

@Suite struct ShapeTests {
    @Test func reshapeVariants() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(x.reshaped(to: [6, -1]).shape == [6, 4])
        #expect(x.reshaped(to: [-1]).shape == [24])
        #expect(x.reshaped(to: [4, 6]).scalars == x.scalars)
        #expect(x.flattened().shape == [24])
        #expect(x.flattened(from: 1).shape == [2, 12])
        #expect(x.flattened(from: 0, through: 1).shape == [6, 4])
        #expect(x.expandingDimension(at: 0).shape == [1, 2, 3, 4])
        #expect(x.expandingDimension(at: -1).shape == [2, 3, 4, 1])
        #expect(x.expandingDimension(at: 2).shape == [2, 3, 1, 4])
        #expect(x.expandingDimension(at: 1).squeezingDimension(at: 1).shape == [2, 3, 4])
        #expect(Tensor(scalar: 2).reshaped(to: [1, 1]).shape == [1, 1])
        #expect(x.reshaped(to: [6, 4]).sharesStorage(with: x))
    }

    @Test func broadcastToMatchesNaive() {
        let x = randomTensor([3, 1, 2], seed: 41)
        let y = x.broadcast(to: [2, 3, 5, 2])
        #expect(y.shape == [2, 3, 5, 2])
        #expect(y.scalars == naiveBroadcast(x.scalars, from: x.shape, to: [2, 3, 5, 2]))
        let row = Tensor([1, 2, 3])
        #expect(row.broadcast(to: [2, 3]).scalars == [1, 2, 3, 1, 2, 3])
        #expect(Tensor(scalar: 4).broadcast(to: [2, 2]).scalars == [4, 4, 4, 4])
        let wide = randomTensor([1, 40], seed: 42)
        #expect(wide.broadcast(to: [3, 40]).scalars == naiveBroadcast(wide.scalars, from: [1, 40], to: [3, 40]))
    }

    @Test(arguments: [[1, 0, 2], [2, 0, 1], [0, 2, 1], [2, 1, 0]])
    func permuteMatchesNaive(_ order: [Int]) {
        let x = randomTensor([2, 3, 17], seed: 43)
        let y = x.permuted(order)
        #expect(y.shape == order.map { x.shape[$0] })
        #expect(y.scalars == naivePermute(x, order))
        // Inverse permutation restores the input.
        var inverse = [Int](repeating: 0, count: 3)
        for (i, axis) in order.enumerated() { inverse[axis] = i }
        #expect(y.permuted(inverse).scalars == x.scalars)
    }

    @Test func transposeAndFourDimensionalPermute() {
        let x = randomTensor([2, 3, 4, 5], seed: 44)
        #expect(x.transposed().scalars == naivePermute(x, [0, 1, 3, 2]))
        #expect(x.transposed(0, 2).scalars == naivePermute(x, [2, 1, 0, 3]))
        #expect(x.permuted([3, 1, 0, 2]).scalars == naivePermute(x, [3, 1, 0, 2]))
        #expect(x.permuted([0, 1, 2, 3]).scalars == x.scalars)
        let big = randomTensor([64, 300], seed: 45)
        #expect(big.transposed().scalars == naivePermute(big, [1, 0]))
    }

    @Test(arguments: [(0, 1..<3, 1), (1, 0..<5, 2), (1, 1..<4, 2), (2, 0..<3, 1), (-1, 1..<3, 3), (1, 2..<3, 1)])
    func sliceMatchesNaive(_ slice: (Int, Range<Int>, Int)) {
        let (axis, range, step) = slice
        let x = randomTensor([3, 5, 4], seed: 46)
        let resolved = axis < 0 ? axis + 3 : axis
        let y = x.sliced(alongAxis: axis, range, step: step)
        let picked = Array(stride(from: range.lowerBound, to: range.upperBound, by: step))
        var shape = x.shape
        shape[resolved] = picked.count
        #expect(y.shape == shape)
        let expected = (0..<y.count).map { offset -> Float in
            var index = multiIndex(offset, shape: shape)
            index[resolved] = picked[index[resolved]]
            return x.scalars[flatOffset(index, shape: x.shape)]
        }
        #expect(y.scalars == expected)
        expectGradientsMatch([x], "sliced(\(axis), \(range), step \(step))") { $0[0].sliced(alongAxis: axis, range, step: step) }
    }

    @Test func padMatchesNaive() {
        let x = randomTensor([2, 3, 4], seed: 47)
        let padding = [(before: 1, after: 0), (before: 0, after: 2), (before: 3, after: 1)]
        let y = x.padded(padding, value: -7)
        #expect(y.shape == [3, 5, 8])
        for offset in 0..<y.count {
            let index = multiIndex(offset, shape: y.shape)
            let source = zip(index, padding).map { $0 - $1.before }
            let inside = zip(source, x.shape).allSatisfy { $0 >= 0 && $0 < $1 }
            #expect(y.scalars[offset] == (inside ? x.scalars[flatOffset(source, shape: x.shape)] : -7))
        }
        #expect(x.padded([(0, 0), (0, 0), (0, 0)]).scalars == x.scalars)
    }

    @Test func tileMatchesNaive() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let y = x.tiled([2, 3])
        #expect(y.shape == [4, 9])
        for offset in 0..<y.count {
            let index = multiIndex(offset, shape: y.shape)
            #expect(y.scalars[offset] == x[index[0] % 2, index[1] % 3])
        }
        #expect(x.tiled([1, 1]).scalars == x.scalars)
    }

    @Test(arguments: [0, 1, 2])
    func concatenateAndStackMatchNaive(_ axis: Int) {
        var random = TestRandom(seed: 48)
        var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
        shapes[1][axis] = 1
        shapes[2][axis] = 2
        let parts = shapes.map { random.normal($0) }
        let y = concatenate(parts, alongAxis: axis)
        var shape = [2, 3, 4]
        shape[axis] = shapes.map { $0[axis] }.reduce(0, +)
        #expect(y.shape == shape)
        for offset in 0..<y.count {
            var index = multiIndex(offset, shape: shape)
            var part = 0
            while index[axis] >= parts[part].shape[axis] { index[axis] -= parts[part].shape[axis]; part += 1 }
            #expect(y.scalars[offset] == parts[part].scalars[flatOffset(index, shape: parts[part].shape)])
        }
        expectGradientsMatch(parts, "concatenate axis \(axis)") { concatenate($0, alongAxis: axis) }

        let same = (0..<3).map { _ in random.normal([2, 3]) }
        let stacked = stack(same, alongAxis: axis)
        var stackedShape = [2, 3]
        stackedShape.insert(3, at: axis)
        #expect(stacked.shape == stackedShape)
        for k in 0..<3 { #expect(stacked.sliced(alongAxis: axis, k..<(k + 1)).scalars == same[k].scalars) }
        expectGradientsMatch(same, "stack axis \(axis)") { stack($0, alongAxis: axis) }
    }

    // MARK: Gradients

    @Test func reshapeBroadcastPermuteGradients() {
        let x = randomTensor([2, 3, 4], seed: 49)
        expectGradientsMatch([x], "reshaped") { $0[0].reshaped(to: [4, -1]) }
        expectGradientsMatch([x], "flattened") { $0[0].flattened(from: 1) }
        expectGradientsMatch([x], "expanding + squeezing") { $0[0].expandingDimension(at: 1).squeezingDimension(at: 1) * 2 }
        expectGradientsMatch([randomTensor([3, 1], seed: 50)], "broadcast(to:)") { $0[0].broadcast(to: [2, 3, 4]) }
        expectGradientsMatch([randomTensor([4], seed: 51)], "broadcast(to:) leading") { $0[0].broadcast(to: [3, 4]) }
        expectGradientsMatch([x], "permuted [2, 0, 1]") { $0[0].permuted([2, 0, 1]) }
        expectGradientsMatch([x], "transposed") { $0[0].transposed() }
        expectGradientsMatch([x], "transposed(0, 2)") { $0[0].transposed(0, 2) }
    }

    @Test("overlapping and strided slices of one tensor, beside a whole use, sum their gradients", arguments: [0, 1, 2])
    func slicesOfOneTensorAccumulate(_ axis: Int) {
        let x = randomTensor([4, 5, 6], seed: 55)
        let extent = x.shape[axis]
        expectGradientsMatch([x], "slices along axis \(axis)") { t in
            let a = t[0].sliced(alongAxis: axis, 0..<3), b = t[0].sliced(alongAxis: axis, 1..<extent, step: 2)
            let c = t[0].sliced(alongAxis: axis, 1..<2)
            return concatenate([a * 2, tanh(b), c * c, (t[0] * 0.5).sliced(alongAxis: axis, 2..<4)], alongAxis: axis)
        }
    }

    @Test("slicing a tensor into many parts costs one input-sized gradient buffer, not one per part")
    func sliceGradientsShareOneBuffer() {
        let (x, seed) = (randomTensor([1, 4096, 512], seed: 56).requiringGradient(), randomTensor([1, 4096, 512], seed: 57))
        let output = withGradients { concatenate(stride(from: 0, to: 4096, by: 64).map { x.sliced(alongAxis: 1, $0..<($0 + 64)) }, alongAxis: 1) }
        let (gradient, allocations) = TensorMemory.measuringAllocations { gradients(of: output, seed: seed, withRespectTo: [x])[0] }
        #expect(gradient.scalars == seed.scalars)
        // The input's gradient and the output gradient cut into 64 parts: two full sizes in all.
        let full = x.count * MemoryLayout<Float>.size
        #expect(allocations.allocatedBytes <= 2 * full + 4096, "allocated \(allocations.allocatedBytes) bytes, full size \(full)")
    }

    @Test func padAndTileGradients() {
        let x = randomTensor([2, 3], seed: 52)
        expectGradientsMatch([x], "padded") { $0[0].padded([(1, 2), (0, 3)], value: 0.5) }
        expectGradientsMatch([randomTensor([2, 2, 3], seed: 53)], "padded rank 3") { $0[0].padded([(0, 1), (2, 0), (1, 1)]) }
        expectGradientsMatch([x], "tiled") { $0[0].tiled([3, 2]) }
        expectGradientsMatch([randomTensor([2, 1, 3], seed: 54)], "tiled rank 3") { $0[0].tiled([1, 4, 2]) }
    }
}
