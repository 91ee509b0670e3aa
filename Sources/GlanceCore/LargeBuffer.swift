import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffers of 1 MiB and more get their own anonymous mapping (with transparent huge pages from
/// 2 MiB), never a place in malloc's heap. In the heap, small long-lived blocks (a layer's
/// weight gradients, say) settle between the large short-lived ones and keep the heap from
/// shrinking or reusing its holes: a 12-layer reversible stack whose tensors never exceeded
/// 300 MB left a 1.2 GB heap. A freed mapping goes to a cache keyed by its length and serves
/// the next request of that length without fresh page faults (a training step asks for the
/// same shapes as the one before); the cache holds at most as many bytes as mappings are in
/// use (or 256 MiB), the rest goes back to the system. Smaller buffers come from malloc.
enum LargeBuffer {
    static let threshold = 1 << 20
    static let hugePage = 2 << 20
    static let page = 4 << 10
    /// The cache may always hold this much, however little is in use.
    static let minimumCacheBytes = 256 << 20

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var cachedBytes = 0
    nonisolated(unsafe) private static var mappedInUse = 0

    /// A mapping of at least `bytes` bytes, or nil when `bytes` is below the threshold (or on
    /// systems without mmap).
    static func map(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int)? {
        #if os(Linux)
        guard bytes >= threshold else { return nil }
        let granule = bytes >= hugePage ? hugePage : page
        let length = (bytes + granule - 1) / granule * granule
        let cached: UnsafeMutableRawPointer? = lock.withLock {
            mappedInUse += length
            guard let pointer = cache[length]?.popLast() else { return nil }
            cachedBytes -= length
            return pointer
        }
        if let cached { return (cached, length) }
        guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), address != MAP_FAILED else {
            lock.withLock { mappedInUse -= length }
            return nil
        }
        if granule == hugePage { _ = madvise(address, length, MADV_HUGEPAGE) }
        return (address, length)
        #else
        return nil
        #endif
    }

    /// Gives back a mapping made by ``map(bytes:)``: to the cache, or to the system when the
    /// cache is full.
    static func unmap(_ pointer: UnsafeMutablePointer<Float>, bytes: Int) {
        #if os(Linux)
        let raw = UnsafeMutableRawPointer(pointer)
        let kept = lock.withLock {
            mappedInUse -= bytes
            guard cachedBytes + bytes <= max(minimumCacheBytes, mappedInUse) else { return false }
            cache[bytes, default: []].append(raw)
            cachedBytes += bytes
            return true
        }
        if !kept { _ = munmap(raw, bytes) }
        #endif
    }
}
