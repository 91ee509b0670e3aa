// OpenBLAS's CBLAS interface (pkg-config "openblas"; Debian: libopenblas-dev),
// glibc's allocator tuning (mallopt), which Glance sets once on Linux, and the CPU
// features that decide which OpenBLAS kernels this machine can run.
#include <cblas.h>
#include <malloc.h>
#include <dlfcn.h>

/// 1 when the CPU (and the OS) can run OpenBLAS's SkylakeX (AVX-512) kernels.
static inline int glance_cpu_runs_avx512_kernels(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

/// 1 when the CPU (and the OS) can run OpenBLAS's Haswell (AVX2 + FMA) kernels.
static inline int glance_cpu_runs_avx2_kernels(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
