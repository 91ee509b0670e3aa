#if canImport(COpenBLAS)
import COpenBLAS
import Foundation

/// OpenBLAS builds for many CPUs (DYNAMIC_ARCH, as Debian ships it) choose their kernels when
/// the library loads. A CPU that such a build does not recognise gets its oldest x86-64 kernels
/// ("Prescott", SSE3): OpenBLAS 0.3.21 does so on virtualised Intel Xeons that report no
/// model, where matrix products then run 3–5× slower than with the AVX-512 kernels the CPU
/// can run (68 against 250–330 GFLOP/s for 1024³ on 2 cores).
enum BLASKernelSelection {
    /// When OpenBLAS fell back to Prescott on a CPU that runs AVX-512 or AVX2 + FMA, and the
    /// user did not choose (`OPENBLAS_CORETYPE`), selects SkylakeX or Haswell kernels instead.
    /// Must run before the first BLAS call. Returns the kernels in use.
    @discardableResult
    static func preferVectorKernels() -> String {
        let current = String(cString: openblas_get_corename())
        guard current.lowercased() == "prescott", ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let quit = symbol("gotoblas_dynamic_quit"), let initialize = symbol("gotoblas_dynamic_init") else { return current }
        let target: String
        if glance_cpu_runs_avx512_kernels() != 0 {
            target = "SkylakeX"
        } else if glance_cpu_runs_avx2_kernels() != 0 {
            target = "Haswell"
        } else {
            return current
        }
        setenv("OPENBLAS_CORETYPE", target, 1)
        quit()
        initialize()
        return String(cString: openblas_get_corename())
    }

    /// A `void f(void)` function of the loaded OpenBLAS (present only in DYNAMIC_ARCH builds).
    private static func symbol(_ name: String) -> (@convention(c) () -> Void)? {
        guard let address = dlsym(nil, name) else { return nil }  // nil: RTLD_DEFAULT, every loaded library
        return unsafeBitCast(address, to: (@convention(c) () -> Void).self)
    }
}
#endif
