import Foundation
import GlanceTestSupport
import Testing

/// Whether `glance data fetch --corpus speech` can run here: espeak-ng and flite are installed,
/// or apt-get can install them (as root).
let speechToolsAvailable: Bool = {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    func installed(_ program: String) -> Bool { path.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") } }
    return (installed("espeak-ng") && installed("flite") && FileManager.default.fileExists(atPath: "/usr/share/pocketsphinx/test/data"))
        || (installed("apt-get") && getuid() == 0)
}()

@Suite struct SpeechCorpusFetchTests {
    static let text = """
    The quick brown fox jumps over the lazy dog. A stitch in time saves nine! Who can tell what the morning will bring?
    She sells sea shells by the sea shore; the shells she sells are surely sea shells. Many hands make light work.
    Every cloud has a silver lining: look for it. The early bird catches the worm. Do not count your chickens before they hatch.
    Actions speak louder than words. Fortune favours the bold and the patient alike. All that glitters is not gold.
    """

    /// Reads the sample rate field of a WAV file's header.
    func sampleRate(of url: URL) throws -> Int {
        let header = [UInt8](try Data(contentsOf: url).prefix(28))
        return (24..<28).reduce(0) { $0 | Int(header[$1]) << (8 * ($1 - 24)) }
    }

    func lines(_ url: URL) throws -> [[String]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test(.enabled(if: speechToolsAvailable, "skipped: espeak-ng and flite are not installed and apt-get cannot install them (needs root on Debian)"))
    func tinyFetch() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        try Data(Self.text.utf8).write(to: folder.appendingPathComponent("text.txt"))
        let arguments = ["data", "fetch", "--corpus", "speech", "--utterances", "4", "--seed", "3", "--text", "text.txt", "--output"]
        let first = try glance(arguments + ["a"], in: folder, timeout: 600)
        #expect(first.status == 0, "\(first)")
        #expect(first.standardOutput.contains("wrote a/test.tsv: 1 utterances"), "\(first)")
        let corpus = folder.appendingPathComponent("a")
        for (split, count) in [("train", 4), ("valid", 1), ("test", 1), ("test-real", 10)] {
            let manifest = try lines(corpus.appendingPathComponent("\(split).tsv"))
            #expect(manifest.count == count, "\(split): \(manifest)")
            for fields in manifest {
                #expect(fields.count == 3 && !fields[2].isEmpty, "\(fields)")
                #expect(try sampleRate(of: corpus.appendingPathComponent(fields[0])) == 16_000)
                #expect((Double(fields[1]) ?? 0) > 0.3, "\(fields)")
            }
        }
        let vocabulary = try String(contentsOf: corpus.appendingPathComponent("vocabulary.json"), encoding: .utf8)
        #expect(vocabulary.contains("<blank>"))
        let synthesis = try lines(corpus.appendingPathComponent("synthesis.tsv"))
        let trainVoices = Set(synthesis.filter { $0[0].hasPrefix("audio/train/") }.map { $0[1] })
        let heldVoices = Set(synthesis.filter { !$0[0].hasPrefix("audio/train/") }.map { $0[1] })
        #expect(trainVoices.isDisjoint(with: heldVoices), "\(trainVoices) \(heldVoices)")

        let second = try glance(arguments + ["b"], in: folder, timeout: 600)
        #expect(second.status == 0, "\(second)")
        let other = folder.appendingPathComponent("b")
        for file in ["train.tsv", "synthesis.tsv", "audio/train/000000.wav", "audio/test/000000.wav"] {
            #expect(try Data(contentsOf: corpus.appendingPathComponent(file)) == Data(contentsOf: other.appendingPathComponent(file)), "\(file) differs for the same seed")
        }
        let again = try glance(arguments + ["a"], in: folder)
        #expect(again.status == 0 && again.standardOutput.contains("already holds"), "\(again)")
    }

    @Test("bad speech options are named")
    func badOptions() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let zero = try glance(["data", "fetch", "--corpus", "speech", "--utterances", "0"], in: folder)
        #expect(zero.status != 0 && zero.standardError.contains("--utterances must be positive"), "\(zero)")
        guard speechToolsAvailable else { return }
        let missing = try glance(["data", "fetch", "--corpus", "speech", "--text", "nowhere.txt", "--output", "x"], in: folder, timeout: 600)
        #expect(missing.status != 0 && missing.standardError.contains("--text nowhere.txt"), "\(missing)")
    }
}
