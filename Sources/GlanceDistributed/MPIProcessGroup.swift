#if MPI
import CMPI
import Foundation
import GlanceTraining

/// The processes `mpirun` started (MPI_COMM_WORLD), as a ``GlanceTraining/ProcessGroup``.
///
/// Sums add the ranks' values in rank order ((rank 0 + rank 1) + rank 2 …), each rank summing
/// its block of the values (see ``sumInRankOrder(_:)``): the order is fixed, so a run does not
/// depend on message timing, and R processes sum exactly as one process accumulating R
/// micro-batches, while each rank moves as many values as in a ring all-reduce.
///
/// Errors return (MPI_ERRORS_RETURN) and are thrown as ``MPIError``; a process that dies
/// makes `mpirun` end the others.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    private let world = glance_mpi_comm_world()
    /// This rank's block of every rank's values while summing, kept from call to call.
    private var received: [Float] = []
    /// The most elements one MPI call moves (its count is a 32-bit integer).
    static let chunk = 1 << 26

    /// Whether this process was started by Open MPI's `mpirun` (or another PMIx launcher).
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// Initializes MPI (once per process; only the calling thread makes MPI calls).
    public init() throws {
        var provided: Int32 = 0
        try Self.check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        try Self.check(MPI_Comm_set_errhandler(world, glance_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try Self.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        (self.rank, self.size) = (Int(rank), Int(size))
    }

    public func sumInRankOrder(_ values: inout [Float]) throws {
        guard size > 1 else { return }
        for start in stride(from: 0, to: values.count, by: Self.chunk) {
            let count = Swift.min(Self.chunk, values.count - start)
            try values.withUnsafeMutableBufferPointer { try sumInRankOrder(UnsafeMutableBufferPointer(rebasing: $0[start..<start + count])) }
        }
    }

    /// Sums `values` over the ranks in rank order: rank j owns the j-th of `size` blocks,
    /// receives every rank's copy of it (MPI_Alltoallv), adds them rank by rank, and every
    /// rank gathers the summed blocks (MPI_Allgatherv). The collectives only move values, so
    /// the order of the additions is fixed; each rank sends and receives 2 (R − 1)/R of the
    /// values, as a ring all-reduce does.
    private func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) throws {
        let starts = (0...size).map { Int32($0 * values.count / size) }
        let counts = (0..<size).map { starts[$0 + 1] - starts[$0] }
        let owned = Int(counts[rank]), first = Int(starts[rank])
        if received.count < owned * size { received = [Float](repeating: 0, count: owned * size) }
        let receiveCounts = [Int32](repeating: Int32(owned), count: size), receiveStarts = (0..<size).map { Int32($0 * owned) }
        try received.withUnsafeMutableBufferPointer { pieces in
            try Self.check(MPI_Alltoallv(values.baseAddress, counts, starts, glance_mpi_float(),
                                         pieces.baseAddress, receiveCounts, receiveStarts, glance_mpi_float(), world), "MPI_Alltoallv")
            for i in 0..<owned { values[first + i] = pieces[i] }
            for source in 1..<size {
                for i in 0..<owned { values[first + i] += pieces[source * owned + i] }
            }
        }
        try Self.check(MPI_Allgatherv(glance_mpi_in_place(), 0, glance_mpi_float(), values.baseAddress, counts, starts, glance_mpi_float(), world),
                       "MPI_Allgatherv")
    }

    public func broadcastFromRankZero(_ values: inout [Float]) throws {
        guard size > 1 else { return }
        try values.withUnsafeMutableBufferPointer { try broadcast(UnsafeMutableRawBufferPointer($0), as: glance_mpi_float(), elementSize: 4) }
    }

    public func broadcastFromRankZero(_ bytes: [UInt8]?) throws -> [UInt8]? {
        guard size > 1 else { return bytes }
        var count: Int64 = rank == 0 ? Int64(bytes?.count ?? -1) : 0
        try withUnsafeMutableBytes(of: &count) { try broadcast($0, as: glance_mpi_int64(), elementSize: 8) }
        guard count >= 0 else { return nil }
        var result = rank == 0 ? bytes! : [UInt8](repeating: 0, count: Int(count))
        try result.withUnsafeMutableBytes { try broadcast($0, as: glance_mpi_byte(), elementSize: 1) }
        return result
    }

    /// Waits until every process has called it.
    public func barrier() throws { try Self.check(MPI_Barrier(world), "MPI_Barrier") }

    /// Ends MPI on this process (call once, after the last MPI call, on every process).
    public func finalize() throws { try Self.check(MPI_Finalize(), "MPI_Finalize") }

    /// Ends every process of the run with `code` (after an error on this one: the others
    /// would wait for it forever).
    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    /// Broadcasts rank 0's `buffer` of elements of `type`, in calls of at most ``chunk`` elements.
    private func broadcast(_ buffer: UnsafeMutableRawBufferPointer, as type: MPI_Datatype?, elementSize: Int) throws {
        let elements = buffer.count / elementSize
        for start in stride(from: 0, to: elements, by: Self.chunk) {
            let count = Swift.min(Self.chunk, elements - start)
            try Self.check(MPI_Bcast(buffer.baseAddress! + start * elementSize, Int32(count), type, 0, world), "MPI_Bcast")
        }
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(call: call, code: code, message: String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// An MPI call failed.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String
    public var description: String { "\(call) failed (MPI error \(code)): \(message)" }
}
#endif
