import Foundation
import Testing

/// A training process killed with SIGKILL and restarted with `--resume` reports the same
/// losses, step for step, as a run that was never interrupted.
@Suite struct KillAndResumeTests {
    static let steps = 300

    func config(in workspace: Workspace, output: URL) -> String {
        Workspace.tinyConfig(corpus: workspace.corpus.path, output: output.path, steps: Self.steps)
            .replacingOccurrences(of: "\"checkpoint_every\": 1000", with: "\"checkpoint_every\": 40")
    }

    /// Step → the JSON progress line printed for it.
    func progressLines(_ text: String) -> [Int: String] {
        var lines: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("{\"step\": ") && line.contains("\"loss\"") {
            let number = line.dropFirst(9).prefix { $0.isNumber }
            // tokens_per_s differs between runs; compare the rest of the line.
            let stable = line.replacingOccurrences(of: #""tokens_per_s": \d+, "#, with: "", options: .regularExpression)
            if let step = Int(number) { lines[step] = stable }
        }
        return lines
    }

    @Test func killedRunResumesExactly() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        let straight = workspace.folder.appendingPathComponent("straight"), killed = workspace.folder.appendingPathComponent("killed")
        let straightConfig = workspace.folder.appendingPathComponent("straight.json"), killedConfig = workspace.folder.appendingPathComponent("killed.json")
        try Data(config(in: workspace, output: straight).utf8).write(to: straightConfig)
        try Data(config(in: workspace, output: killed).utf8).write(to: killedConfig)

        let reference = try glance(["train", "--config", straightConfig.path, "--json"], in: workspace.folder, timeout: 120)
        try #require(reference.status == 0, "\(reference)")
        let expected = progressLines(reference.standardOutput)
        try #require(expected.count == Self.steps)

        // Start the second run and kill it once it is past its second checkpoint.
        let log = workspace.folder.appendingPathComponent("killed.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = try GlanceBinary.url()
        process.arguments = ["train", "--config", killedConfig.path, "--json"]
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
        #expect(beforeKill.keys.max()! < Self.steps, "the killed run finished anyway")

        let resumed = try glance(["train", "--config", killedConfig.path, "--json", "--resume"], in: workspace.folder, timeout: 120)
        try #require(resumed.status == 0, "\(resumed)")
        let after = progressLines(resumed.standardOutput)
        let firstResumed = try #require(after.keys.min())
        #expect(firstResumed > 1 && firstResumed <= beforeKill.keys.max()! + 1, "resumed at step \(firstResumed)")
        #expect(after.keys.max() == Self.steps)
        for step in firstResumed...Self.steps {
            #expect(after[step] == expected[step], "step \(step) differs after resuming")
        }
        // Steps logged before the kill match too.
        for (step, line) in beforeKill { #expect(line == expected[step], "step \(step) differs before the kill") }
    }
}
