import GlanceCore
import Testing

/// Tensor storage of every size class (malloc, a page-rounded mapping, a huge-page mapping and
/// a cached one), and the live-byte accounting that benchmarks report.
@Suite struct TensorMemoryTests {
    @Test("buffers below, at and above the mapping threshold hold what is written, also when a freed mapping is reused",
          arguments: [1_000, 262_144, 300_000, 524_288, 1_000_000, 17_000_000])
    func storageRoundTrip(_ count: Int) {
        for round in 0..<3 {
            var tensor = Tensor.zeros([count])
            #expect(tensor.scalars.allSatisfy { $0 == 0 }, "a reused buffer must still start from zeros")
            tensor.withUnsafeMutableBufferPointer { buffer in
                for i in stride(from: 0, to: count, by: 4099) { buffer[i] = Float(i % 97 + round) }
            }
            let scalars = tensor.scalars
            #expect(stride(from: 0, to: count, by: 4099).allSatisfy { scalars[$0] == Float($0 % 97 + round) })
        }
    }

    @Test("live bytes count a tensor while it exists, and the peak remembers it")
    func accounting() {
        TensorMemory.resetPeak()
        let bytes = 64 << 20
        do {
            let tensor = Tensor.zeros([bytes / 4])
            #expect(TensorMemory.liveBytes >= bytes && tensor.count == bytes / 4)
        }
        #expect(TensorMemory.peakBytes >= bytes)
    }
}
