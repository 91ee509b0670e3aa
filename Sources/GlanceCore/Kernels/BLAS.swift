#if canImport(Accelerate)
import Accelerate
#elseif canImport(COpenBLAS)
import COpenBLAS
#endif

/// Row-major single-precision matrix products through the platform BLAS
/// (OpenBLAS on Linux, Accelerate on Apple platforms).
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major with the given leading dimensions.
    /// Runs on the calling thread.
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for row in 0..<m {
                let out = c + row * ldc
                if beta == 0 { out.update(repeating: 0, count: n) } else { for j in 0..<n { out[j] *= beta } }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product, split across `Threading.count` workers by rows of C (or by columns
    /// when C has few rows), each worker calling single-threaded BLAS.
    public static func parallelSgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let work = m * n * k
        let workers = Threading.count
        if workers <= 1 || work < 1 << 18 {
            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let aPointer = SendablePointer(UnsafeMutablePointer(mutating: a))
        let bPointer = SendablePointer(UnsafeMutablePointer(mutating: b))
        let cPointer = SendablePointer(c)
        if m >= n || m >= 8 * workers {
            // Split rows of C: rows of op(A).
            parallelFor(m, grain: 4) { rows in
                let aStart = transposeA ? aPointer.base + rows.lowerBound : aPointer.base + rows.lowerBound * lda
                sgemm(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                      a: aStart, lda: lda, b: bPointer.base, ldb: ldb, beta: beta,
                      c: cPointer.base + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Split columns of C: columns of op(B).
            parallelFor(n, grain: 16) { columns in
                let bStart = transposeB ? bPointer.base + columns.lowerBound * ldb : bPointer.base + columns.lowerBound
                sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k, alpha: alpha,
                      a: aPointer.base, lda: lda, b: bStart, ldb: ldb, beta: beta,
                      c: cPointer.base + columns.lowerBound, ldc: ldc)
            }
        }
    }
}

extension BLAS {
    /// The BLAS library's kernels: OpenBLAS's core name (e.g. "SkylakeX", "Haswell"), or
    /// "Accelerate" on Apple platforms.
    public static var kernels: String {
        _ = Threading.count  // the kernel choice is made with the threading setup
        #if canImport(COpenBLAS)
        return String(cString: openblas_get_corename())
        #else
        return "Accelerate"
        #endif
    }

    /// Runs `body` with the BLAS library's own threading set to `threads` (Glance keeps it
    /// at 1 and splits work itself). Used to measure raw BLAS throughput for comparison.
    public static func withLibraryThreads<Result>(_ threads: Int, _ body: () throws -> Result) rethrows -> Result {
        #if canImport(COpenBLAS)
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(1) }
        #endif
        return try body()
    }
}

extension BLAS {
    /// The product of ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``,
    /// split across the workers when `split` is true (see `parallelSgemm`).
    public static func sgemm(
        split: Bool, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if split {
            parallelSgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                          a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// Runs `count` independent products `product(index, split)`. With at least as many
    /// products as workers they are spread over the workers (`split` false: each product on
    /// one thread); otherwise they run in turn, each split across the workers (`split` true).
    public static func independentProducts(_ count: Int, _ product: (_ index: Int, _ split: Bool) -> Void) {
        if count >= Threading.count {
            parallelFor(count) { range in for index in range { product(index, false) } }
        } else {
            for index in 0..<count { product(index, true) }
        }
    }
}
