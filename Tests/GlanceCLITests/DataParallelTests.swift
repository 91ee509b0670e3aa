#if MPI
import Foundation
import Testing

/// `glance train` and `classify` under `mpirun` (Glance built with the MPI trait): two ranks of
/// one thread train as one process does, resume exactly after a rank is killed (with two
/// ranks, or with one process), and train across two network namespaces over TCP.
///
/// Tolerance against one process with the same batch: 1e-5 relative on every loss. Two ranks
/// compute the batch's gradient as two halves added together, one process as one product over
/// all rows: the sums round differently (about 1e-7 relative) and a few Adam steps carry that
/// into the losses without growing it much. Against one process that accumulates the same two
/// micro-batches (accumulation_steps 2) the losses are bit for bit equal: the same halves are
/// added in the same order.
@Suite(.serialized) struct DataParallelTests {
    static let relativeTolerance = 1e-5

    /// mpirun, found on PATH.
    static func mpirun() throws -> URL {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        struct Missing: Error, CustomStringConvertible {
            var description: String { "Glance was built with the MPI trait but mpirun is not on PATH: install openmpi-bin" }
        }
        throw Missing()
    }

    /// Running as root needs Open MPI's consent.
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// The arguments of `mpirun` that start `ranks` ranks of `glance arguments`.
    static func mpirunArguments(_ ranks: Int, _ arguments: [String], options: [String] = []) throws -> [String] {
        ["-np", "\(ranks)", "--oversubscribe"] + options + [try GlanceBinary.url().path] + arguments
    }

    static func mpirun(_ ranks: Int, _ arguments: [String], in folder: URL, options: [String] = []) throws -> CommandResult {
        try runCapturing(try mpirun(), try mpirunArguments(ranks, arguments, options: options), in: folder, timeout: 120, environment: environment)
    }

    /// Step → loss of the JSON progress lines.
    static func losses(_ text: String) -> [Int: Double] {
        var losses: [Int: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("{\"step\": ") && line.contains("\"loss\"") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
               let step = object["step"] as? Int, let loss = object["loss"] as? Double { losses[step] = loss }
        }
        return losses
    }

    /// Trains `command` with `config` as one process, as one process accumulating two
    /// micro-batches (`accumulated`) and as two ranks; compares the losses.
    static func compareTwoRanks(_ command: String, config: URL, accumulated: URL, steps: Int, in workspace: Workspace) throws {
        let folder = workspace.folder
        func output(_ name: String) -> [String] { ["--output", folder.appendingPathComponent(name).path] }
        let one = try glance([command, "--config", config.path, "--json"] + output("one"), in: folder)
        let accumulating = try glance([command, "--config", accumulated.path, "--json"] + output("accumulating"), in: folder)
        let two = try mpirun(2, [command, "--config", config.path, "--json"] + output("two"), in: folder)
        for result in [one, accumulating, two] { try #require(result.status == 0, "\(result)") }
        #expect(two.standardOutput.contains("\"processes\": 2, \"allreduce_ms_per_step\""), "\(two)")
        let expected = losses(one.standardOutput), found = losses(two.standardOutput)
        try #require(expected.count == steps && found.count == steps, "\(two)")
        for step in 1...steps {
            let (a, b) = (expected[step]!, found[step]!)
            #expect(abs(a - b) <= relativeTolerance * abs(a), "step \(step): one process \(a), two ranks \(b)")
        }
        #expect(KillAndResumeTests.progressLines(two.standardOutput) == KillAndResumeTests.progressLines(accumulating.standardOutput),
                "two ranks differ from one process accumulating the same two micro-batches")
    }

    @Test func twoRanksTrainTheLanguageModelAsOneProcess() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        let config = Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 8, dropout: 0)
        try workspace.writeConfig(config)
        let accumulated = workspace.folder.appendingPathComponent("accumulated.json")
        try Data(config.replacingOccurrences(of: #""batch_size": 4,"#, with: #""batch_size": 4, "accumulation_steps": 2,"#).utf8).write(to: accumulated)
        try Self.compareTwoRanks("train", config: workspace.config, accumulated: accumulated, steps: 8, in: workspace)
    }

    /// 44 training documents in batches of 8: step 6 ends the epoch with 4, all of them rank 0's.
    @Test func twoRanksTrainTheClassifierAsOneProcess() throws {
        let workspace = try ClassifyTests.workspace(attention: "full", steps: 8)
        defer { workspace.remove() }
        let train = workspace.corpus.appendingPathComponent("train.tsv")
        let documents = try String(contentsOf: train, encoding: .utf8).split(separator: "\n").prefix(44)
        try Data((documents.joined(separator: "\n") + "\n").utf8).write(to: train)
        let config = try String(contentsOf: workspace.config, encoding: .utf8).replacingOccurrences(of: #""log_every": 2"#, with: #""log_every": 1"#)
        try Data(config.utf8).write(to: workspace.config)
        let accumulated = workspace.folder.appendingPathComponent("accumulated.json")
        try Data(config.replacingOccurrences(of: #""batch_size": 8,"#, with: #""batch_size": 8, "accumulation_steps": 2,"#).utf8).write(to: accumulated)
        try Self.compareTwoRanks("classify", config: workspace.config, accumulated: accumulated, steps: 8, in: workspace)
    }

    /// With dropout, each rank draws its own stream, derived at every step from the shared
    /// generator the checkpoint saves: a 2-rank run stopped after 4 steps and resumed matches
    /// one of 8 steps.
    @Test func dropoutStreamsOfRanksResumeExactly() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 8, dropout: 0.1))
        let folder = workspace.folder, stopped = folder.appendingPathComponent("stopped").path
        let straight = try Self.mpirun(2, ["train", "--config", workspace.config.path, "--json", "--output", folder.appendingPathComponent("straight").path], in: folder)
        let first = try Self.mpirun(2, ["train", "--config", workspace.config.path, "--json", "--output", stopped, "--steps", "4"], in: folder)
        let second = try Self.mpirun(2, ["train", "--config", workspace.config.path, "--json", "--output", stopped, "--resume"], in: folder)
        for result in [straight, first, second] { try #require(result.status == 0, "\(result)") }
        let expected = KillAndResumeTests.progressLines(straight.standardOutput)
        let resumed = KillAndResumeTests.progressLines(first.standardOutput).merging(KillAndResumeTests.progressLines(second.standardOutput)) { $1 }
        #expect(resumed.count == 8 && resumed == expected)
    }

    /// The glance processes `mpirun` started: rank → process id.
    static func ranks(of mpirun: Int32) -> [Int: Int32] {
        var found: [Int: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == mpirun, let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            for variable in environ.split(separator: 0) where variable.starts(with: Array("OMPI_COMM_WORLD_RANK=".utf8)) {
                if let rank = Int(String(decoding: variable.dropFirst(21), as: UTF8.self)) { found[rank] = pid }
            }
        }
        return found
    }

    /// A 2-rank run whose rank 1 is killed (SIGKILL) past its second checkpoint ends within
    /// seconds with mpirun's message and rank 0's; its checkpoint resumes exactly, with two
    /// ranks, and with one process accumulating the same two micro-batches.
    @Test func killedRankEndsTheRunAndItResumesExactly() throws {
        let steps = 300
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        let config = Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: steps, dropout: 0)
            .replacingOccurrences(of: #""checkpoint_every": 1000"#, with: #""checkpoint_every": 40"#)
        try workspace.writeConfig(config)
        let folder = workspace.folder
        let straight = folder.appendingPathComponent("straight").path, killed = folder.appendingPathComponent("killed").path
        let copy = folder.appendingPathComponent("copy").path
        let reference = try Self.mpirun(2, ["train", "--config", workspace.config.path, "--json", "--output", straight], in: folder)
        try #require(reference.status == 0, "\(reference)")
        let expected = KillAndResumeTests.progressLines(reference.standardOutput)
        try #require(expected.count == steps)

        let log = folder.appendingPathComponent("killed.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = try Self.mpirun()
        process.arguments = try Self.mpirunArguments(2, ["train", "--config", workspace.config.path, "--json", "--output", killed])
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(Self.environment.merging(["GLANCE_THREADS": "1"]) { $1 }) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        var deadline = Date().addingTimeInterval(120), seen = 0
        while process.isRunning && Date() < deadline && seen < 95 {
            seen = KillAndResumeTests.progressLines(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)).keys.max() ?? 0
            usleep(1_000)
        }
        let rankOne = try #require(Self.ranks(of: process.processIdentifier)[1], "rank 1 of mpirun \(process.processIdentifier) not found (reached step \(seen))")
        kill(rankOne, SIGKILL)
        deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try handle.close()
        let text = String(decoding: try Data(contentsOf: log), as: UTF8.self)
        try #require(!text.contains("\"final_val_loss\""), "the run finished before rank 1 was killed")
        #expect(process.terminationStatus != 0 && text.contains("rank 1") && text.contains("exited on signal 9"), "mpirun's message: \(text.suffix(2000))")
        #expect(text.contains("glance rank 0 of 2: ended by mpirun because another rank stopped"), "\(text.suffix(2000))")
        try FileManager.default.copyItem(atPath: killed, toPath: copy)

        let beforeKill = KillAndResumeTests.progressLines(text)
        for (step, line) in beforeKill { #expect(line == expected[step], "step \(step) differs before the kill") }
        func resumedLines(_ result: CommandResult) throws -> [Int: String] {
            try #require(result.status == 0, "\(result)")
            let lines = KillAndResumeTests.progressLines(result.standardOutput)
            let first = try #require(lines.keys.min())
            #expect(first > 40 && first <= beforeKill.keys.max()! + 1 && lines.keys.max() == steps, "resumed at step \(first)")
            return lines
        }
        let twoRanks = try resumedLines(try Self.mpirun(2, ["train", "--config", workspace.config.path, "--json", "--output", killed, "--resume"], in: folder))
        for (step, line) in twoRanks { #expect(line == expected[step], "step \(step) differs after resuming with two ranks") }

        let accumulated = folder.appendingPathComponent("accumulated.json")
        try Data(config.replacingOccurrences(of: #""batch_size": 4,"#, with: #""batch_size": 4, "accumulation_steps": 2,"#).utf8).write(to: accumulated)
        let oneProcess = try resumedLines(try glance(["train", "--config", accumulated.path, "--json", "--output", copy, "--resume"], in: folder))
        for (step, line) in oneProcess { #expect(line == expected[step], "step \(step) differs after resuming in one process") }
    }
}
#endif
