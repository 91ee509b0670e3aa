// OpenBLAS's CBLAS interface (pkg-config "openblas"; Debian: libopenblas-dev),
// and glibc's allocator tuning (mallopt), which Glance sets once on Linux.
#include <cblas.h>
#include <malloc.h>
