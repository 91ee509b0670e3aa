#if canImport(Glibc)
import Glibc
#endif

/// Buffers of 64 MiB and more get their own anonymous mapping with transparent huge pages:
/// returned to the system as soon as they are freed (no heap fragmentation holding peak memory
/// up) and faulted in 2 MiB at a time, so that a fresh buffer costs little more than a reused
/// one. Smaller buffers come from malloc, whose freed blocks are reused (see `Threading`).
enum LargeBuffer {
    static let threshold = 64 << 20
    static let hugePage = 2 << 20

    /// A mapping of at least `bytes` bytes, or nil when `bytes` is below the threshold (or on
    /// systems without mmap).
    static func map(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int)? {
        #if os(Linux)
        guard bytes >= threshold else { return nil }
        let length = (bytes + hugePage - 1) / hugePage * hugePage
        guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              address != MAP_FAILED else { return nil }
        _ = madvise(address, length, MADV_HUGEPAGE)
        return (address, length)
        #else
        return nil
        #endif
    }

    static func unmap(_ pointer: UnsafeMutablePointer<Float>, bytes: Int) {
        #if os(Linux)
        _ = munmap(UnsafeMutableRawPointer(pointer), bytes)
        #endif
    }
}
