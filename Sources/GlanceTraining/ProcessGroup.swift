/// The processes that train one model together (data parallelism): each computes the
/// gradients of its share of every batch and the group sums them, so that every process
/// takes the same step. A ``Trainer`` works in one (see ``Trainer/join(_:)``).
public protocol ProcessGroup: AnyObject {
    /// This process's number, 0 ..< ``size``; rank 0 logs and writes checkpoints.
    var rank: Int { get }
    /// How many processes train together.
    var size: Int { get }
    /// Replaces `values` on every process with their element-wise sum over the processes,
    /// added in rank order ((rank 0 + rank 1) + rank 2 …), so that the result does not depend
    /// on timing. Every process passes the same count.
    func sumInRankOrder(_ values: inout [Float]) throws
    /// Replaces `values` on every process with rank 0's. Every process passes the same count.
    func broadcastFromRankZero(_ values: inout [Float]) throws
    /// Rank 0's `bytes` on every process (the others pass nil); nil everywhere when rank 0
    /// passes nil (it has nothing to send: it reports why itself).
    func broadcastFromRankZero(_ bytes: [UInt8]?) throws -> [UInt8]?
}

/// A group of one: training as a single process.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sumInRankOrder(_ values: inout [Float]) {}
    public func broadcastFromRankZero(_ values: inout [Float]) {}
    public func broadcastFromRankZero(_ bytes: [UInt8]?) -> [UInt8]? { bytes }
}
