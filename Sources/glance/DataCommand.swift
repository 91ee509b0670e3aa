import ArgumentParser
import Foundation
import GlanceData

/// `glance data fetch`: downloads and splits the default corpus.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Get corpora.", subcommands: [Fetch.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the GCIDE dictionary text (Debian's dict-gcide) and split it 90/5/5.",
            discussion: "Needs apt-get, dpkg-deb and gzip (Debian or Ubuntu). enwik8 is not reachable from these machines.")

        @Option(help: "Folder for train.txt, valid.txt and test.txt.") var output = "data/gcide"

        func run() throws {
            let folder = URL(fileURLWithPath: output)
            if ["train", "valid", "test"].allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent("\($0).txt").path) }) {
                print("\(output) already holds the corpus")
                return
            }
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("glance-gcide-\(ProcessInfo.processInfo.processIdentifier)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            try shell("apt-get download dict-gcide", in: work)
            try shell("dpkg-deb -x dict-gcide_*.deb extracted", in: work)
            try shell("gzip -dc extracted/usr/share/dictd/gcide.dict.dz > gcide.txt", in: work)
            let text = [UInt8](try Data(contentsOf: work.appendingPathComponent("gcide.txt")))
            guard text.count > 1_000_000 else { throw CommandFailure("the extracted GCIDE text has only \(text.count) bytes") }
            try ByteCorpus.write(splitting: text, into: folder)
            print("wrote \(output)/{train,valid,test}.txt from \(text.count) bytes of GCIDE")
        }

        func shell(_ command: String, in folder: URL) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.currentDirectoryURL = folder
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure("`\(command)` failed with status \(process.terminationStatus) (is this a Debian-based system with apt-get?)")
            }
        }
    }
}
