import Dispatch
import Foundation
#if canImport(COpenBLAS)
import COpenBLAS
#endif

/// The one threading knob of Glance.
///
/// Glance splits large kernels across `Threading.count` workers and keeps BLAS itself
/// single-threaded, splitting matrix products across the same workers; results are therefore
/// deterministic for a given thread count. The default is the `GLANCE_THREADS` environment
/// variable when set, else every core.
public enum Threading {
    nonisolated(unsafe) private static var configured: Int = {
        disableBLASThreading()
        keepLargeAllocations()
        if let text = ProcessInfo.processInfo.environment["GLANCE_THREADS"], let value = Int(text), value > 0 {
            return Swift.min(value, maximumCount)
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// The most workers Glance starts (GLANCE_THREADS above it counts as this many).
    public static let maximumCount = 1024

    /// Number of workers used by kernels. Set it before starting work, not during.
    public static var count: Int {
        get { configured }
        set {
            precondition((1...maximumCount).contains(newValue), "thread count must be in 1...\(maximumCount), got \(newValue)")
            configured = newValue
        }
    }

    /// glibc returns every large block to the kernel and gets fresh zeroed pages on the
    /// next allocation; tensors of hundreds of megabytes then cost page faults on every op.
    /// Raising the thresholds lets freed blocks be reused.
    private static func keepLargeAllocations() {
        #if canImport(COpenBLAS)
        mallopt(M_MMAP_THRESHOLD, 1 << 30)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
    }

    private static func disableBLASThreading() {
        #if canImport(COpenBLAS)
        BLASKernelSelection.preferVectorKernels()
        openblas_set_num_threads(1)
        #endif
    }
}

/// A raw pointer that may cross into worker closures. Kernels write disjoint ranges.
public struct SendablePointer<Pointee>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Pointee>
    @inlinable public init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
    @inlinable public init(_ base: UnsafePointer<Pointee>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Runs `body` over `0..<count` split into at most `Threading.count` contiguous ranges,
/// each holding at least `grain` items, and waits for all of them.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = Swift.min(Threading.count, Swift.max(1, count / Swift.max(grain, 1)))
    if chunks <= 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendableBox(escapable)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            box.value(start..<end)
        }
    }
}

@usableFromInline struct UncheckedSendableBox<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @inlinable init(_ value: Value) { self.value = value }
}

/// Like ``parallelFor(_:grain:_:)`` but also hands each worker its chunk number
/// (`0..<chunks`), so that workers can keep private partial results. Returns the number
/// of chunks used.
@discardableResult
public func parallelChunks(_ count: Int, grain: Int = 1, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) -> Int {
    guard count > 0 else { return 0 }
    let chunks = Swift.min(Threading.count, Swift.max(1, count / Swift.max(grain, 1)))
    if chunks <= 1 {
        body(0, 0..<count)
        return 1
    }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendableBox(escapable)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            box.value(chunk, (count * chunk / chunks)..<(count * (chunk + 1) / chunks))
        }
    }
    return chunks
}
