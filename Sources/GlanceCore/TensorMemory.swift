import Foundation

/// Bytes held by live tensor storage, and their high-water mark since the last
/// ``resetPeak()``: what a computation really keeps, independent of how the allocator lays it
/// out (a process's peak RSS adds heap fragmentation and everything that is not a tensor).
public enum TensorMemory {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var peak = 0
    @TaskLocal static var measurement: TensorAllocations?

    /// Bytes of tensor storage alive now.
    public static var liveBytes: Int { lock.withLock { live } }

    /// The most bytes of tensor storage alive at once since the last ``resetPeak()``.
    public static var peakBytes: Int { lock.withLock { peak } }

    /// Starts a new high-water mark from what is alive now.
    public static func resetPeak() { lock.withLock { peak = live } }

    /// Runs `body` and counts the tensor storage that it allocates in this task: unlike
    /// ``liveBytes`` and ``peakBytes``, the figures leave out what other tasks and threads
    /// (tests running in parallel) allocate meanwhile.
    public static func measuringAllocations<Result>(_ body: () throws -> Result) rethrows -> (result: Result, allocations: TensorAllocations) {
        let allocations = TensorAllocations()
        let result = try $measurement.withValue(allocations) { try body() }
        return (result, allocations)
    }

    static func allocated(_ bytes: Int) {
        lock.withLock {
            live += bytes
            peak = max(peak, live)
        }
    }

    static func freed(_ bytes: Int) { lock.withLock { live -= bytes } }
}

/// Tensor storage allocated inside one ``TensorMemory/measuringAllocations(_:)`` call.
public final class TensorAllocations: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0, live = 0, peak = 0

    /// Bytes allocated in all (freed or not).
    public var allocatedBytes: Int { lock.withLock { total } }
    /// The most bytes of this measurement's storage alive at once.
    public var peakBytes: Int { lock.withLock { peak } }

    func allocated(_ bytes: Int) {
        lock.withLock {
            total += bytes
            live += bytes
            peak = max(peak, live)
        }
    }

    func freed(_ bytes: Int) { lock.withLock { live -= bytes } }
}
