import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffers of 1 MiB and more get their own anonymous mapping (with transparent huge pages where
/// they pay), never a place in malloc's heap. In the heap, small long-lived blocks (a layer's
/// weight gradients, say) settle between the large short-lived ones and keep the heap from
/// shrinking or reusing its holes: a 12-layer reversible stack whose tensors never exceeded
/// 300 MB left a 1.2 GB heap.
///
/// A freed mapping goes to a cache keyed by its length and serves the next request of that
/// length (or slightly less) without fresh page faults: a training step asks for the same
/// shapes as the one before, and a page the kernel must zero again costs more than the
/// arithmetic on it (zeroing fresh pages took 44% of a char-LM training step when the cache
/// gave back whatever the step had freed). The cache keeps mappings while in-use plus cached
/// bytes stay within the most ever in use at once (at least 256 MiB), so the process never
/// holds more than its own high-water mark; the rest goes back to the system.
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
    nonisolated(unsafe) private static var peakInUse = 0

    /// The length of the mapping for `bytes` bytes: whole pages, and whole huge pages only
    /// where rounding up to them wastes at most an eighth (a 2.25 MiB tensor stays 2.25 MiB
    /// instead of taking 4 MiB).
    static func mappingLength(bytes: Int) -> Int {
        let pages = (bytes + page - 1) / page * page
        let hugePages = (bytes + hugePage - 1) / hugePage * hugePage
        return hugePages - bytes <= bytes / 8 ? hugePages : pages
    }

    /// A mapping of at least `bytes` bytes, or nil when `bytes` is below the threshold (or on
    /// systems without mmap).
    static func map(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int)? {
        #if os(Linux)
        guard bytes >= threshold else { return nil }
        let length = mappingLength(bytes: bytes)
        let cached: (UnsafeMutableRawPointer, Int)? = lock.withLock {
            guard let fit = cachedLength(fitting: length), let pointer = cache[fit]?.popLast() else {
                mappedInUse += length
                peakInUse = max(peakInUse, mappedInUse)
                return nil
            }
            if cache[fit]?.isEmpty == true { cache[fit] = nil }
            cachedBytes -= fit
            mappedInUse += fit
            peakInUse = max(peakInUse, mappedInUse)
            return (pointer, fit)
        }
        if let cached { return cached }
        guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), address != MAP_FAILED else {
            lock.withLock { mappedInUse -= length }
            return nil
        }
        if length >= hugePage { _ = madvise(address, length, MADV_HUGEPAGE) }
        return (address, length)
        #else
        return nil
        #endif
    }

    /// The shortest cached length that holds `length` bytes and wastes at most an eighth of
    /// it; call with the lock held.
    private static func cachedLength(fitting length: Int) -> Int? {
        if cache[length] != nil { return length }
        return cache.keys.filter { $0 > length && $0 - length <= length / 8 }.min()
    }

    /// Gives back a mapping made by ``map(bytes:)``: to the cache, or to the system when the
    /// cache is full.
    static func unmap(_ pointer: UnsafeMutablePointer<Float>, bytes: Int) {
        #if os(Linux)
        let raw = UnsafeMutableRawPointer(pointer)
        let kept = lock.withLock {
            mappedInUse -= bytes
            guard mappedInUse + cachedBytes + bytes <= max(peakInUse, mappedInUse + minimumCacheBytes) else { return false }
            cache[bytes, default: []].append(raw)
            cachedBytes += bytes
            return true
        }
        if !kept { _ = munmap(raw, bytes) }
        #endif
    }
}
