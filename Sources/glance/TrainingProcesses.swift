import Foundation
import GlanceTraining
#if MPI
import GlanceDistributed
#endif

/// The processes one `glance train` or `classify` trains with: every process `mpirun` started
/// (when Glance is built with the MPI trait), or this one alone.
enum TrainingProcesses {
    /// Runs `body` in this invocation's group and ends MPI after it. An error on one of several
    /// processes ends them all (MPI_Abort) after printing it with the process's rank: the
    /// others would otherwise wait for it forever.
    static func run(_ body: (any ProcessGroup) throws -> Void) throws {
        #if MPI
        if MPIProcessGroup.isLaunchedByMPI {
            let group = try MPIProcessGroup()
            if group.size > 1 { explainTermination(rank: group.rank, size: group.size) }
            do {
                try body(group)
            } catch {
                guard group.size > 1 else {
                    try? group.finalize()
                    throw error
                }
                printError("glance rank \(group.rank) of \(group.size): error: \(error); ending every rank")
                group.abort(code: 1)
            }
            try group.finalize()
            return
        }
        #endif
        if let ranks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"], ranks != "1" {
            throw CommandFailure("mpirun started \(ranks) processes, but this glance was built without MPI: each would train alone "
                                 + "into the same run folder; build it with `swift build -c release --traits MPI` (docs/data-parallel.md)")
        }
        try body(SingleProcess())
    }

    #if MPI
    /// What a rank prints when `mpirun` ends it (SIGTERM) because another rank stopped.
    nonisolated(unsafe) private static var terminationNote: UnsafeMutablePointer<CChar>?

    /// Makes SIGTERM print why this rank ends before it does: `mpirun` sends it to the others
    /// when one rank dies. Checkpoints are written to a temporary file and renamed, so the last
    /// one stays whole.
    private static func explainTermination(rank: Int, size: Int) {
        terminationNote = strdup("glance rank \(rank) of \(size): ended by mpirun because another rank stopped "
                                 + "(see mpirun's message); the run's last checkpoint is intact: continue with --resume\n")
        signal(SIGTERM) { _ in
            if let note = TrainingProcesses.terminationNote { _ = write(2, note, strlen(note)) }
            _exit(143)
        }
    }
    #endif
}
