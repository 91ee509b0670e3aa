import Foundation

/// One measurement's process: runs a command with its output in files (no pipe can fill up),
/// kills it after a timeout, and returns its standard output or why it failed.
struct SuiteChildProcess {
    let executable: URL
    let arguments: [String]
    let timeout: TimeInterval

    /// What the process left: its standard output, or a failure in words; and its wall seconds.
    struct Outcome {
        let output: String
        let failure: String?
        let wallSeconds: Double

        /// The last line of the output that is a JSON object.
        var lastJSONObject: [String: Any]? {
            output.split(separator: "\n").reversed().lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.first
        }
    }

    func run() -> Outcome {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-suite-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let started = Date()
        func failed(_ reason: String) -> Outcome { Outcome(output: "", failure: reason, wallSeconds: Date().timeIntervalSince(started)) }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            return failed("cannot create \(folder.path): \(error.localizedDescription)")
        }
        let (outURL, errURL) = (folder.appendingPathComponent("stdout"), folder.appendingPathComponent("stderr"))
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            return failed("cannot open the output files in \(folder.path)")
        }
        defer { try? out.close(); try? err.close() }
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            return failed("cannot start \(executable.path): \(error.localizedDescription)")
        }
        var killed = false
        while process.isRunning {
            if Date().timeIntervalSince(started) > timeout && !killed {
                killed = true
                process.terminate()
                let grace = Date()
                while process.isRunning && Date().timeIntervalSince(grace) < 3 { usleep(50_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        let wall = Date().timeIntervalSince(started)
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let lastError = stderr.split(separator: "\n").suffix(3).joined(separator: " / ")
        if killed { return Outcome(output: stdout, failure: String(format: "killed after %.0f s (the timeout)", wall), wallSeconds: wall) }
        if process.terminationReason == .uncaughtSignal {
            return Outcome(output: stdout, failure: "crashed (signal \(process.terminationStatus))" + (lastError.isEmpty ? "" : ": \(lastError)"), wallSeconds: wall)
        }
        guard process.terminationStatus == 0 else {
            return Outcome(output: stdout, failure: "exit status \(process.terminationStatus)" + (lastError.isEmpty ? "" : ": \(lastError)"), wallSeconds: wall)
        }
        return Outcome(output: stdout, failure: nil, wallSeconds: wall)
    }
}
