import Foundation
import GlanceAttention
import GlanceCore

extension Bench {
    /// `--gemm`: a square matrix product through Glance and through raw BLAS, in GFLOP/s.
    func runGemm() throws {
        var generator = RandomGenerator(seed: 0)
        let a = Tensor.randomNormal(shape: [size, size], generator: &generator)
        let b = Tensor.randomNormal(shape: [size, size], generator: &generator)
        let flops = 2 * Double(size) * Double(size) * Double(size)
        let glance = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { a.matmul(b) } }
        var c = Tensor.zeros([size, size])
        let raw = BLAS.withLibraryThreads(Threading.count) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        medianMilliseconds(repeats: `repeat`) {
                            BLAS.sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                                       a: pa.baseAddress!, lda: size, b: pb.baseAddress!, ldb: size, c: pc.baseAddress!, ldc: size)
                        }
                    }
                }
            }
        }
        let glanceRate = flops / glance / 1e6, rawRate = flops / raw / 1e6
        try report(settings: [("blas_kernels", BLAS.kernels), ("threads", Threading.count)],
                   measurements: [("size", size), ("glance_gflops", rounded(glanceRate)), ("blas_gflops", rounded(rawRate)),
                                  ("ratio", rounded(glanceRate / rawRate))],
                   first: true)
    }

    /// The machine's matrix-product rate in GFLOP/s, measured in this process: the fastest of
    /// ten 1024³ products through raw BLAS on ``Threading/count`` threads, after a warm-up (a
    /// limit to compare layers with; the median of three read low while threads and clocks woke).
    func measuredGemmRate() -> Double {
        let size = 1024
        var generator = RandomGenerator(seed: 0)
        let a = Tensor.randomNormal(shape: [size, size], generator: &generator)
        let b = Tensor.randomNormal(shape: [size, size], generator: &generator)
        var c = Tensor.zeros([size, size])
        let milliseconds = BLAS.withLibraryThreads(Threading.count) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        sortedMilliseconds(repeats: 10) {
                            BLAS.sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                                       a: pa.baseAddress!, lda: size, b: pb.baseAddress!, ldb: size, c: pc.baseAddress!, ldc: size)
                        }
                    }[0]
                }
            }
        }
        return 2 * Double(size * size * size) / milliseconds / 1e6
    }

    /// The rate fields of a bench line: `gflops` and `backward_gflops` by the analytic count
    /// `flops` (null without a count or a backward time) and `gemm_gflops`, the machine's rate
    /// measured in this process. The GEMM is measured once, into `gemmRate`, after the first
    /// line's peak memory is read, so that its matrices do not count in that peak.
    func rateMeasurements(_ flops: LayerFlops?, forward: Double, backward: Double?, gemmRate: inout Double?) -> [(String, Any)] {
        let gemm = gemmRate ?? measuredGemmRate()
        gemmRate = gemm
        return [("gflops", flops.map { rounded($0.forward / forward / 1e6) } ?? NSNull()),
                ("backward_gflops", flops.flatMap { flops in backward.map { rounded(flops.forwardAndBackward / $0 / 1e6) } } ?? NSNull()),
                ("gemm_gflops", rounded(gemm))]
    }
}
