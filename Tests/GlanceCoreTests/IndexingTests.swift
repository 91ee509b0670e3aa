import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// result[p, j, i] = x[p, indices[(shared ? j : p·m + j)], i] with x viewed as outer × extent × inner.
func naiveGather(_ x: Tensor, axis: Int, indices: [Int], m: Int, shared: Bool) -> [Float] {
    let outer = x.shape[..<axis].reduce(1, *), extent = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    let v = x.scalars
    var result: [Float] = []
    for p in 0..<outer {
        for j in 0..<m {
            let picked = indices[shared ? j : p * m + j]
            for i in 0..<inner { result.append(v[(p * extent + picked) * inner + i]) }
        }
    }
    return result
}

@Suite struct IndexingTests {
    @Test(arguments: [0, 1, 2])
    func sharedGatherMatchesNaive(_ axis: Int) {
        let x = randomTensor([3, 4, 5], seed: 61)
        let indices = IndexTensor([2, 0, 2, 1, 2].map { $0 % x.shape[axis] })
        let y = x.gathered(alongAxis: axis, indices: indices)
        var shape = x.shape
        shape[axis] = 5
        #expect(y.shape == shape)
        #expect(y.scalars == naiveGather(x, axis: axis, indices: indices.values, m: 5, shared: true))
        expectGradientsMatch([x], "gathered shared axis \(axis) (repeated indices)") { $0[0].gathered(alongAxis: axis, indices: indices) }
    }

    @Test func perBatchGatherMatchesNaive() {
        let x = randomTensor([2, 3, 4, 2], seed: 62)
        // axis 2: indices of shape [2, 3, m] pick differently for each (b, h).
        var random = TestRandom(seed: 63)
        let indices = random.indices([2, 3, 5], below: 4)
        let y = x.gathered(alongAxis: 2, indices: indices)
        #expect(y.shape == [2, 3, 5, 2])
        #expect(y.scalars == naiveGather(x, axis: 2, indices: indices.values, m: 5, shared: false))
        expectGradientsMatch([x], "gathered per batch") { $0[0].gathered(alongAxis: 2, indices: indices) }

        let rows = randomTensor([3, 6], seed: 64)
        let perRow = IndexTensor([5, 5, 0, 1, 2, 3], shape: [3, 2])
        #expect(rows.gathered(alongAxis: 1, indices: perRow).scalars == [rows[0, 5], rows[0, 5], rows[1, 0], rows[1, 1], rows[2, 2], rows[2, 3]])
    }

    @Test func scatterAddingIsTheAdjointOfGather() {
        var random = TestRandom(seed: 65)
        for (shape, axis, indexShape) in [([3, 4, 2], 1, [6]), ([3, 4, 2], 1, [3, 6]), ([5, 3], 0, [7])] {
            let x = random.normal(shape)
            let indices = random.indices(indexShape, below: shape[axis])
            let gathered = x.gathered(alongAxis: axis, indices: indices)
            let y = random.normal(gathered.shape)
            let scattered = y.scatterAdding(alongAxis: axis, indices: indices, extent: shape[axis])
            #expect(scattered.shape == shape)
            // ⟨gather(x), y⟩ = ⟨x, scatter(y)⟩
            let left = zip(gathered.scalars, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let right = zip(x.scalars, scattered.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(Swift.abs(left - right) < 1e-4, "shape \(shape) axis \(axis) indices \(indexShape)")
            expectGradientsMatch([y], "scatterAdding \(shape) axis \(axis) indices \(indexShape)") {
                $0[0].scatterAdding(alongAxis: axis, indices: indices, extent: shape[axis])
            }
        }
    }

    @Test func scatterAddingAccumulatesRepeatedSlots() {
        let y = Tensor([1, 2, 3, 4], shape: [4, 1])
        let s = y.scatterAdding(alongAxis: 0, indices: IndexTensor([2, 0, 2, 2]), extent: 3)
        #expect(s.scalars == [2, 0, 8])
    }

    @Test func embeddingLookupPicksRows() {
        let table = randomTensor([5, 3], seed: 66)
        let ids = IndexTensor([4, 0, 4, 2, 1, 1], shape: [2, 3])
        let y = table.embeddingLookup(ids)
        #expect(y.shape == [2, 3, 3])
        for (position, id) in ids.values.enumerated() {
            #expect(Array(y.scalars[(position * 3)..<(position * 3 + 3)]) == Array(table.scalars[(id * 3)..<(id * 3 + 3)]))
        }
        expectGradientsMatch([table], "embeddingLookup") { $0[0].embeddingLookup(ids) }
        // Rows never looked up get zero gradient; repeated rows accumulate.
        let (_, grads) = valueAndGradient(at: [table]) { $0[0].embeddingLookup(ids).sum() }
        #expect(grads[0].scalars == [1, 1, 1, 2, 2, 2, 1, 1, 1, 0, 0, 0, 2, 2, 2])
    }

    @Test func largeGatherSplitsAcrossThreads() {
        let x = randomTensor([8, 50, 3], seed: 67)
        var random = TestRandom(seed: 68)
        let indices = random.indices([8, 4000], below: 50)
        let y = x.gathered(alongAxis: 1, indices: indices)
        #expect(y.scalars == naiveGather(x, axis: 1, indices: indices.values, m: 4000, shared: false))
    }
}
