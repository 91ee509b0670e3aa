import Foundation
import Testing

/// A training process killed with SIGKILL and restarted with `--resume` reports the same
/// losses, step for step, as a run that was never interrupted: `glance train` and `glance classify`.
@Suite struct KillAndResumeTests {
    static let steps = 300

    /// Step → the JSON progress line printed for it.
    static func progressLines(_ text: String) -> [Int: String] {
        var lines: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("{\"step\": ") && line.contains("\"loss\"") {
            let number = line.dropFirst(9).prefix { $0.isNumber }
            // tokens_per_s differs between runs; compare the rest of the line.
            let stable = line.replacingOccurrences(of: #""tokens_per_s": \d+, "#, with: "", options: .regularExpression)
            if let step = Int(number) { lines[step] = stable }
        }
        return lines
    }

    /// Runs `command --config config --json` into `straight`; runs it again into `killed`,
    /// kills it with SIGKILL once it has logged step 95 (past its second checkpoint at 80)
    /// and resumes it with `--resume`. Every progress line matches the uninterrupted run's;
    /// returns the last lines (the summaries) of the uninterrupted and the resumed run.
    static func killAndResume(_ command: String, config: URL, in workspace: Workspace) throws -> (straight: Substring?, resumed: Substring?) {
        let straight = workspace.folder.appendingPathComponent("straight").path, killed = workspace.folder.appendingPathComponent("killed").path
        let reference = try glance([command, "--config", config.path, "--json", "--output", straight], in: workspace.folder, timeout: 120)
        try #require(reference.status == 0, "\(reference)")
        let expected = progressLines(reference.standardOutput)
        try #require(expected.count == steps)

        let log = workspace.folder.appendingPathComponent("killed.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = try GlanceBinary.url()
        process.arguments = [command, "--config", config.path, "--json", "--output", killed]
        process.currentDirectoryURL = workspace.folder
        var environment = ProcessInfo.processInfo.environment
        environment["GLANCE_THREADS"] = "1"
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        var seen = 0
        while process.isRunning && Date() < deadline {
            seen = progressLines(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)).keys.max() ?? 0
            if seen >= 95 { break }
            usleep(1_000)
        }
        try #require(process.isRunning, "the run ended before it could be killed (reached step \(seen))")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let beforeKill = progressLines(String(decoding: try Data(contentsOf: log), as: UTF8.self))
        #expect(beforeKill.keys.max()! < steps, "the killed run finished anyway")

        let resumed = try glance([command, "--config", config.path, "--json", "--output", killed, "--resume"], in: workspace.folder, timeout: 120)
        try #require(resumed.status == 0, "\(resumed)")
        let after = progressLines(resumed.standardOutput)
        let firstResumed = try #require(after.keys.min())
        #expect(firstResumed > 1 && firstResumed <= beforeKill.keys.max()! + 1, "resumed at step \(firstResumed)")
        #expect(after.keys.max() == steps)
        for step in firstResumed...steps {
            #expect(after[step] == expected[step], "step \(step) differs after resuming")
        }
        // Steps logged before the kill match too.
        for (step, line) in beforeKill { #expect(line == expected[step], "step \(step) differs before the kill") }
        return (reference.standardOutput.split(separator: "\n").last, resumed.standardOutput.split(separator: "\n").last)
    }

    @Test func killedRunResumesExactly() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: Self.steps)
            .replacingOccurrences(of: "\"checkpoint_every\": 1000", with: "\"checkpoint_every\": 40"))
        _ = try Self.killAndResume("train", config: workspace.config, in: workspace)
    }

    @Test func killedClassifierResumesExactly() throws {
        let workspace = try ClassifyTests.workspace(attention: "full", steps: Self.steps)
        defer { workspace.remove() }
        let config = try String(contentsOf: workspace.config, encoding: .utf8)
        try Data(config.replacingOccurrences(of: #""log_every": 2, "eval_every": 4"#, with: #""log_every": 1, "eval_every": 100, "checkpoint_every": 40"#)
            .replacingOccurrences(of: #""model": {"#, with: #""model": {"dropout": 0.1, "#).utf8).write(to: workspace.config)
        let (straight, resumed) = try Self.killAndResume("classify", config: workspace.config, in: workspace)
        // The summaries agree on everything but the timings.
        func figures(_ line: Substring?) throws -> [String: Double] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data((line ?? "").utf8)) as? [String: Any])
            return object.filter { !$0.key.hasPrefix("train_") && $0.key != "seconds" }.compactMapValues { $0 as? Double }
        }
        let reference = try figures(straight)
        #expect(reference["test_accuracy"] != nil && reference["final_val_loss"] != nil)
        #expect(try figures(resumed) == reference)
    }
}
