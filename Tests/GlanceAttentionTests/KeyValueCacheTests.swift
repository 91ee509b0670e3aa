import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// The key-value cache: growth keeps every row, a retained window keeps the rows later
/// queries can read in bounded storage, and its attention kernel is causal softmax attention
/// with the diagonal shifted by the cached length.
@Suite struct KeyValueCacheTests {
    /// The rows `positions` of slice s of [batch, heads, n, width] values.
    static func rows(_ t: Tensor, slice: Int, positions: Range<Int>) -> [Float] {
        let (n, width) = (t.shape[2], t.shape[3])
        return Array(t.scalars[((slice * n + positions.lowerBound) * width)..<((slice * n + positions.upperBound) * width)])
    }

    /// What the cache holds for `positions` of slice s.
    static func held(_ cache: KeyValueCache, slice: Int, positions: Range<Int>) -> (keys: [Float], values: [Float]) {
        cache.withRows { rows in
            (positions.flatMap { Array(UnsafeBufferPointer(start: rows.key(slice: slice, position: $0), count: rows.keyDimensions)) },
             positions.flatMap { Array(UnsafeBufferPointer(start: rows.value(slice: slice, position: $0), count: rows.valueDimensions)) })
        }
    }

    @Test("appending past the capacity doubles the storage and keeps every row in place")
    func growth() {
        let (batch, heads, length) = (2, 3, 37)
        var random = TestRandom(seed: 1)
        let keys = random.normal([batch, heads, length, 4]), values = random.normal([batch, heads, length, 5])
        let cache = KeyValueCache(batch: batch, heads: heads, keyDimensions: 4, valueDimensions: 5, initialCapacity: 2)
        var start = 0
        for size in [1, 1, 3, 1, 8, 2, 21] {
            let range = start..<(start + size)
            cache.append(keys: keys.sliced(alongAxis: 2, range), values: values.sliced(alongAxis: 2, range))
            start += size
            #expect(cache.length == start && cache.heldCount == start && cache.capacity >= start && cache.capacity < 2 * start + 2)
        }
        #expect(cache.capacity == 40)  // 2 → 5 (a piece of 3 needs more than a doubling) → 10 → 20 → 40
        for slice in 0..<(batch * heads) {
            let (k, v) = Self.held(cache, slice: slice, positions: 0..<length)
            #expect(k == Self.rows(keys, slice: slice, positions: 0..<length))
            #expect(v == Self.rows(values, slice: slice, positions: 0..<length))
        }
    }

    @Test("with a retained window, storage stays bounded and holds the window before the newest call")
    func retainedWindow() {
        let (retained, length) = (3, 60)
        var random = TestRandom(seed: 2)
        let keys = random.normal([1, 2, length, 4]), values = random.normal([1, 2, length, 4])
        let cache = KeyValueCache(batch: 1, heads: 2, keyDimensions: 4, valueDimensions: 4, retaining: retained, initialCapacity: 1)
        var start = 0
        var sizes = [Int]()
        while start < length {
            let size = Swift.min([1, 2, 1, 4][sizes.count % 4], length - start)
            sizes.append(size)
            cache.append(keys: keys.sliced(alongAxis: 2, start..<(start + size)), values: values.sliced(alongAxis: 2, start..<(start + size)))
            let readable = Swift.max(0, start - retained)..<(start + size)
            start += size
            #expect(cache.capacity <= 2 * (retained + 4), "storage grew to \(cache.capacity) rows for a window of \(retained)")
            #expect(cache.firstHeldPosition <= readable.lowerBound && cache.length == start)
            for slice in 0..<2 {
                let (k, v) = Self.held(cache, slice: slice, positions: readable)
                #expect(k == Self.rows(keys, slice: slice, positions: readable))
                #expect(v == Self.rows(values, slice: slice, positions: readable))
            }
        }
        #expect(cache.firstHeldPosition > 0, "positions no query can read were never dropped")
    }

    @Test("attention of the newest queries to every cached key up to their own position is shifted-causal softmax attention",
          arguments: [(1, 9), (4, 9), (9, 9)])
    func shiftedCausalAttention(_ newQueries: Int, _ length: Int) {
        let c = AttentionCase(batch: 2, heads: 2, queries: newQueries, keys: length, depth: 8, valueDepth: 5,
                              allowed: { [length, newQueries] i, j in j <= length - newQueries + i })
        let (q, k, v) = c.inputs(seed: 3)
        let cache = KeyValueCache(batch: 2, heads: 2, keyDimensions: 8, valueDimensions: 5)
        cache.append(keys: k, values: v)
        let scale = 1 / Float(8).squareRoot()
        let output = withoutGradients { cache.attention(queries: q, scale: scale) { _, position in 0...position } }
        let expected = referenceAttention(c, q: q, k: k, v: v).output.map(Float.init)
        #expect(output.shape == [2, 2, newQueries, 5])
        #expect(isClose(output.scalars, expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6),
                "max difference \(maxAbsoluteDifference(output.scalars, expected))")
    }

    @Test("each head reads the keys its own list names")
    func perHeadKeyLists() {
        let c = AttentionCase(batch: 1, heads: 2, queries: 1, keys: 6, depth: 4, valueDepth: 4)
        let (q, k, v) = c.inputs(seed: 4)
        let cache = KeyValueCache(batch: 1, heads: 2, keyDimensions: 4, valueDimensions: 4)
        cache.append(keys: k, values: v)
        // Head 0 sees keys 1 and 5, head 1 key 3 alone (its output is that value).
        let output = withoutGradients { cache.attention(queries: q, scale: 0.5) { head, _ in head == 0 ? [1, 5] : [3] } }
        #expect(Array(output.scalars[4..<8]) == Self.rows(v, slice: 1, positions: 3..<4))
        let qs = Array(q.scalars[0..<4]), k1 = Self.rows(k, slice: 0, positions: 1..<2), k5 = Self.rows(k, slice: 0, positions: 5..<6)
        let s1 = 0.5 * zip(qs, k1).map(*).reduce(0, +), s5 = 0.5 * zip(qs, k5).map(*).reduce(0, +)
        let p1 = 1 / (1 + Foundation.exp(s5 - s1))
        let (v1, v5) = (Self.rows(v, slice: 0, positions: 1..<2), Self.rows(v, slice: 0, positions: 5..<6))
        #expect(isClose(Array(output.scalars[0..<4]), zip(v1, v5).map { p1 * $0 + (1 - p1) * $1 }, relativeTolerance: 1e-5))
    }
}
