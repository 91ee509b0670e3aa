import ArgumentParser
import Foundation
import GlanceData

/// `glance data fetch`: downloads or builds a corpus of ``CorpusFetchers`` and writes its splits.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Get corpora.", subcommands: [Fetch.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a corpus: " + CorpusFetchers.all.map { $0.summary }.joined(separator: ", ") + ".",
            discussion: CorpusFetchers.all.map { "\($0.name): \($0.details)" }.joined(separator: "\n"))

        @Option(help: "Corpus: \(CorpusFetchers.names) (default \(CorpusFetchers.all[0].name)).") var corpus = CorpusFetchers.all[0].name
        @Option(help: "Output folder (default: data/CORPUS).") var output: String?
        @OptionGroup var speech: SpeechCorpusFetch

        func validate() throws {
            guard CorpusFetchers.named(corpus) != nil else { throw ValidationError("unknown --corpus '\(corpus)'; known: \(CorpusFetchers.names)") }
        }

        func run() throws {
            let fetcher = CorpusFetchers.named(corpus)!
            let output = output ?? "data/\(corpus)"
            let folder = URL(fileURLWithPath: output)
            if fetcher.files.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
                print("\(output) already holds the \(corpus) corpus")
                return
            }
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("glance-\(corpus)-\(ProcessInfo.processInfo.processIdentifier)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            try fetcher.fetch(into: folder, output: output, work: work, command: self)
        }

        /// Runs `command` with /bin/sh in `folder`; a failure names the command and `hint`.
        func shell(_ command: String, in folder: URL, hint: String) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.currentDirectoryURL = folder
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure("`\(command)` failed with status \(process.terminationStatus) (\(hint))")
            }
        }
    }
}
