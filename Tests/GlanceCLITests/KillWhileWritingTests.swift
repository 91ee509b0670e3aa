import Foundation
import GlanceCore
import Testing

/// `glance train` killed with SIGKILL at random moments, a checkpoint written after every step
/// so that many kills land inside a write, and resumed each time: every resume starts from a
/// valid checkpoint no more than one step behind the last step logged, and every step any of
/// the processes logged matches an uninterrupted run. 10 kills by default; GLANCE_KILLS=100
/// (or any count) for the long run.
@Suite struct KillWhileWritingTests {
    static var kills: Int { ProcessInfo.processInfo.environment["GLANCE_KILLS"].flatMap(Int.init) ?? 10 }

    /// The step of the checkpoint in `run`, or nil when there is none; a checkpoint that does
    /// not read, or holds a value that is not finite, is a failure.
    static func checkpointStep(in run: URL) throws -> Int? {
        let url = run.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let (tensors, metadata) = try SafeTensors.read(from: url)
        #expect(!tensors.isEmpty && tensors.values.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
        let state = try #require(metadata["glance.training_state"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])
        return try #require(object["step"] as? Int)
    }

    @Test(.timeLimit(.minutes(10))) func killedWritersResumeFromValidCheckpoints() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        // A wider model than the other CLI tests' makes each checkpoint write take a while.
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 1_000_000)
            .replacingOccurrences(of: "\"checkpoint_every\": 1000", with: "\"checkpoint_every\": 1")
            .replacingOccurrences(of: "\"d_model\": 16", with: "\"d_model\": 64"))
        var random = RandomGenerator(seed: 17)
        var logged: [Int: String] = [:]
        var (resumes, killedWhileWriting, lastCheckpoint) = (0, 0, 0)
        for round in 0..<Self.kills {
            let resuming = try Self.checkpointStep(in: workspace.run) != nil
            let log = workspace.folder.appendingPathComponent("kill-\(round).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = try GlanceBinary.url()
            process.arguments = ["train", "--config", workspace.config.path, "--json", "--threads", "1"] + (resuming ? ["--resume"] : [])
            process.currentDirectoryURL = workspace.folder
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait for the first step of this process, then kill it within the next ~50 ms.
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning, Date() < deadline,
                  KillAndResumeTests.progressLines(String(decoding: try Data(contentsOf: log), as: UTF8.self)).isEmpty { usleep(1_000) }
            usleep(UInt32(random.nextInt(below: 50_000)))
            try #require(process.isRunning, "kill \(round): the run ended before it was killed")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let lines = KillAndResumeTests.progressLines(String(decoding: try Data(contentsOf: log), as: UTF8.self))
            let first = try #require(lines.keys.min()), last = try #require(lines.keys.max())
            if resuming { resumes += 1 }
            #expect(first == lastCheckpoint + 1, "kill \(round): started at step \(first), the checkpoint was at \(lastCheckpoint)")
            for (step, line) in lines {
                if let earlier = logged[step] { #expect(earlier == line, "step \(step) differs between two processes") }
                logged[step] = line
            }
            let temporaryFiles = try FileManager.default.contentsOfDirectory(atPath: workspace.run.path).filter { $0.hasSuffix(".tmp") }
            if !temporaryFiles.isEmpty { killedWhileWriting += 1 }
            for name in temporaryFiles { try FileManager.default.removeItem(at: workspace.run.appendingPathComponent(name)) }
            // No checkpoint yet counts as step 0 (a kill before the first write ended).
            let checkpoint = try Self.checkpointStep(in: workspace.run) ?? 0
            #expect(checkpoint >= last - 1 && checkpoint >= lastCheckpoint, "kill \(round): checkpoint at step \(checkpoint) after step \(last) was logged")
            lastCheckpoint = checkpoint
        }
        // The last checkpoint finishes a few steps on (the learning rate is constant, so the step
        // count does not change the steps); an uninterrupted run logs the same lines.
        let end = lastCheckpoint + 3
        let finished = try glance(["train", "--config", workspace.config.path, "--json", "--resume", "--steps", "\(end)"], in: workspace.folder, timeout: 120)
        try #require(finished.status == 0, "\(finished)")
        for (step, line) in KillAndResumeTests.progressLines(finished.standardOutput) { logged[step] = line }
        let straight = try glance(["train", "--config", workspace.config.path, "--json", "--steps", "\(end)", "--output",
                                   workspace.folder.appendingPathComponent("straight").path], in: workspace.folder, timeout: 120)
        try #require(straight.status == 0, "\(straight)")
        let expected = KillAndResumeTests.progressLines(straight.standardOutput)
        #expect(Set(logged.keys) == Set(1...end), "steps never logged: \(Set(1...end).subtracting(logged.keys).sorted())")
        for step in 1...end { #expect(logged[step] == expected[step], "step \(step) differs from the uninterrupted run") }
        print("kill-while-writing: \(Self.kills) kills, \(resumes) resumes, \(killedWhileWriting) kills inside a checkpoint write, \(end) steps")
    }
}
