import GlanceCore
import GlanceTestSupport
import Testing

/// `chunkedApply`: the chunk-at-a-time result and gradients equal those of one call.
@Suite struct ChunkedApplyTests {
    @Test("equals the function applied at once, with the same input and weight gradients", arguments: [1, 3, 7, 20])
    func matchesOneCall(_ chunkLength: Int) {
        var random = TestRandom(seed: 7)
        let input = random.normal([2, 7, 4]), weight = random.normal([4, 5], standardDeviation: 0.5), seed = random.normal([2, 7, 5])
        func run(_ chunked: Bool) -> (Tensor, [Tensor]) {
            let (x, w) = (input.requiringGradient(), weight.requiringGradient())
            let body = { (t: Tensor) in tanh(t.matmul(w)) }
            let out = withGradients { chunked ? chunkedApply(x, chunkLength: chunkLength, alongAxis: 1, parameters: [w], body) : body(x) }
            return (out.detached(), gradients(of: out, seed: seed, withRespectTo: [x, w]))
        }
        let (chunked, chunkedGradients) = run(true), (whole, wholeGradients) = run(false)
        #expect(relativeError(chunked, whole) <= 1e-6)
        for (a, b) in zip(chunkedGradients, wholeGradients) { #expect(relativeError(a, b) <= 1e-6) }
    }

    @Test("gradients match finite differences; without recording it is a plain computation")
    func finiteDifferences() {
        var random = TestRandom(seed: 9)
        let input = random.normal([1, 5, 3]), weight = random.normal([3, 3], standardDeviation: 0.5)
        expectGradientsMatch([input, weight]) { t in
            chunkedApply(t[0], chunkLength: 2, alongAxis: -2, parameters: [t[1]]) { sigmoid($0.matmul(t[1])) }
        }
        let plain = withoutGradients { chunkedApply(input, chunkLength: 2, alongAxis: 1, parameters: [weight]) { $0.matmul(weight) } }
        #expect(!plain.requiresGradient)
    }

    @Test("the backward over [1, 4096, 512] with chunk 64 allocates one input-sized gradient buffer, not one per chunk")
    func backwardWritesChunksIntoOneBuffer() {
        let x = randomTensor([1, 4096, 512], seed: 11).requiringGradient()
        let (seed, weight) = (randomTensor([1, 4096, 512], seed: 12), randomTensor([512], seed: 13).requiringGradient())
        let output = withGradients { chunkedApply(x, chunkLength: 64, alongAxis: 1, parameters: [weight]) { $0 * weight } }
        let (grads, allocations) = TensorMemory.measuringAllocations { gradients(of: output, seed: seed, withRespectTo: [x, weight]) }
        #expect(relativeError(grads[0], seed * weight.detached()) <= 1e-6)
        #expect(relativeError(grads[1], (seed * x.detached()).sum(alongAxis: 1).sum(alongAxis: 0)) <= 1e-5)
        let full = x.count * MemoryLayout<Float>.size
        // Alive at once: the input's gradient (full size) and one chunk's pieces. Allocated in
        // all: that gradient, and per chunk its input, output gradient, recomputed output and
        // the products of the multiplication's backward, all chunk-sized: about seven full
        // sizes in all, where the slice of each chunk alone used to allocate a full size (64).
        #expect(allocations.peakBytes < 2 * full, "peak \(allocations.peakBytes) bytes, full size \(full)")
        #expect(allocations.allocatedBytes < 8 * full, "allocated \(allocations.allocatedBytes) bytes, full size \(full)")
    }
}
