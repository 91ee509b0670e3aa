import ArgumentParser
import Foundation
import GlanceCore

@main
struct Glance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glance",
        abstract: "Train, run and measure efficient Transformers on the CPU.",
        version: glanceVersion,
        subcommands: [Train.self, Classify.self, Evaluate.self, Generate.self, Translate.self, Forecast.self, Transcribe.self, Run.self, Bench.self,
                      Mechanisms.self, DataCommand.self, Report.self, Advise.self]
    )
}

/// Options shared by every command that computes.
struct ComputeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Worker threads for Glance and BLAS (default: GLANCE_THREADS or all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let threads, threads > Threading.maximumCount { throw ValidationError("--threads must be at most \(Threading.maximumCount), got \(threads)") }
    }

    func apply() {
        if let threads { Threading.count = threads }
    }
}

/// An error that ends a command with a message and exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
