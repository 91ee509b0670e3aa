import Foundation

/// Bytes held by live tensor storage, and their high-water mark since the last
/// ``resetPeak()``: what a computation really keeps, independent of how the allocator lays it
/// out (a process's peak RSS adds heap fragmentation and everything that is not a tensor).
public enum TensorMemory {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var peak = 0

    /// Bytes of tensor storage alive now.
    public static var liveBytes: Int { lock.withLock { live } }

    /// The most bytes of tensor storage alive at once since the last ``resetPeak()``.
    public static var peakBytes: Int { lock.withLock { peak } }

    /// Starts a new high-water mark from what is alive now.
    public static func resetPeak() { lock.withLock { peak = live } }

    static func allocated(_ bytes: Int) {
        lock.withLock {
            live += bytes
            peak = max(peak, live)
        }
    }

    static func freed(_ bytes: Int) { lock.withLock { live -= bytes } }
}
