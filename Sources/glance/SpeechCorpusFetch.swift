import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import GlanceData

/// speech: synthetic speech for recognition, with held-out voices and real recordings.
enum SpeechFetcher: CorpusFetcher {
    static let name = "speech"
    static let summary = "synthetic speech (recognition)"
    static let details = "sentences spoken by espeak-ng and flite voices (installed when missing as root), valid and test voices held out "
        + "from train, plus pocketsphinx-testdata's real recordings; see --utterances."
    static let files = SpeechCorpusFetch.files

    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws {
        try command.speech.fetch(into: folder, output: output, work: work)
    }
}

/// The options of `glance data fetch --corpus speech`, which synthesises a labelled speech corpus with espeak-ng and
/// flite (installed with apt-get when missing) from the sentences of a public-domain text, and
/// adds the real recordings of `pocketsphinx-testdata` as `test-real.tsv`.
struct SpeechCorpusFetch: ParsableArguments {
    @Option(help: "speech: training utterances; valid and test get a tenth each.") var utterances = 2000
    @Option(help: "speech: seed of the sentence, voice and prosody choices.") var seed: UInt64 = 0
    @Option(help: "speech: a plain-text file to take sentences from (default: Bierce's The Devil's Dictionary, Debian dict-devil).")
    var text: String?

    static let packages = [("espeak-ng", "espeak-ng"), ("flite", "flite")]
    static let files = [SpeechVocabulary.fileName, "synthesis.tsv"] + SpeechCorpus.Split.allCases.map { "\($0.rawValue).tsv" }

    func validate() throws {
        guard utterances > 0 else { throw ValidationError("--utterances must be positive, got \(utterances)") }
    }

    /// Synthesises the corpus into `folder` (`output` as the user named it), using the scratch folder `work`.
    func fetch(into folder: URL, output: String, work: URL) throws {
        try installTools()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        let (source, sentences) = try readSentences(work: work)
        guard sentences.count >= 3 else { throw CommandFailure("\(source) gives \(sentences.count) usable sentences (3–20 words of letters); at least 3 are needed") }
        let held = max(1, utterances / 10)
        let requests = SyntheticSpeechPlan.plan(sentences: sentences, counts: [.train: utterances, .valid: held, .test: held], seed: seed)
        print("synthesising \(requests.count) utterances from \(sentences.count) sentences of \(source)…")
        let synthesised = try synthesise(requests, into: folder, work: work)
        for split in SyntheticSpeechPlan.splits {
            try SpeechManifest.write(synthesised.filter { $0.split == split }.map(\.utterance), to: SpeechCorpus.manifestURL(of: split, in: folder))
        }
        try Data(synthesised.map { "\($0.request.audioPath)\t\($0.request.voice)\t\($0.request.rate)\t\($0.request.pitch)\n" }.joined().utf8)
            .write(to: folder.appendingPathComponent("synthesis.tsv"))
        let real = try PocketsphinxTestData.recordings().map { recording in
            try SpeechCorpus.store(try WAVFile.read(from: recording.audio), as: "audio/test-real/\(recording.audio.lastPathComponent)",
                                   transcript: recording.transcript, in: folder)
        }
        try SpeechManifest.write(real, to: SpeechCorpus.manifestURL(of: .testReal, in: folder))
        try SpeechVocabulary.english.write(into: folder)

        for split in SyntheticSpeechPlan.splits {
            let utterances = synthesised.filter { $0.split == split }.map(\.utterance)
            let voices = SyntheticSpeechPlan.voices(for: split)
            let named = split == .train ? "" : ", held out from train: " + voices.map(\.description).joined(separator: ", ")
            print("wrote \(output)/\(split.rawValue).tsv: \(utterances.count) utterances, \(minutes(utterances)) min, \(voices.count) voices\(named)")
        }
        print("wrote \(output)/test-real.tsv: \(real.count) real recordings of pocketsphinx-testdata, \(minutes(real)) min")
        print("wrote \(output)/vocabulary.json (blank, space, apostrophe, a–z), synthesis.tsv (voice, rate, pitch of each WAV); audio: 16 kHz mono 16-bit WAV under \(output)/audio/")
    }

    func minutes(_ utterances: [SpeechUtterance]) -> String {
        String(format: "%.1f", utterances.reduce(0) { $0 + $1.seconds } / 60)
    }

    /// Installs espeak-ng, flite and pocketsphinx-testdata with apt-get when missing.
    func installTools() throws {
        var missing = Self.packages.filter { !onPath($0.0) }.map(\.1)
        if !FileManager.default.fileExists(atPath: PocketsphinxTestData.defaultFolder.path) { missing.append("pocketsphinx-testdata") }
        guard !missing.isEmpty else { return }
        guard onPath("apt-get") else {
            throw CommandFailure("the speech corpus needs \(missing.joined(separator: ", ")) (Debian package names), and apt-get is not available here: "
                                 + "install them with your package manager, then retry")
        }
        print("installing \(missing.joined(separator: " ")) with apt-get…")
        let sudo = getuid() == 0 ? "" : "sudo "
        let install = "DEBIAN_FRONTEND=noninteractive \(sudo)apt-get install -y -q \(missing.joined(separator: " ")) >/dev/null"
        try run("/bin/sh", ["-c", "\(install) || { \(sudo)apt-get update -qq && \(install); }"],
                failure: "installing \(missing.joined(separator: ", ")) with apt-get failed")
    }

    /// The sentences of `--text`, or of The Devil's Dictionary downloaded from Debian.
    func readSentences(work: URL) throws -> (source: String, sentences: [String]) {
        if let text {
            let url = URL(fileURLWithPath: text)
            guard let contents = try? String(contentsOf: url, encoding: .utf8) else { throw CommandFailure("--text \(text): cannot read it as UTF-8 text") }
            return (text, SpokenSentences.extract(from: contents))
        }
        let hint = "is this a Debian-based system with apt-get?"
        try run("/bin/sh", ["-c", "cd '\(work.path)' && apt-get download dict-devil && dpkg-deb -x dict-devil_*.deb extracted && gzip -dc extracted/usr/share/dictd/devil.dict.dz > devil.txt"],
                failure: "downloading dict-devil failed (\(hint))")
        let contents = try String(contentsOf: work.appendingPathComponent("devil.txt"), encoding: .utf8)
        return ("The Devil's Dictionary (dict-devil)", SpokenSentences.extract(from: contents))
    }

    struct Synthesised: Sendable {
        let request: SynthesisRequest
        let utterance: SpeechUtterance
        var split: SpeechCorpus.Split { request.split }
    }

    /// Runs the synthesiser of each request (several at once) and stores its audio at 16 kHz.
    func synthesise(_ requests: [SynthesisRequest], into folder: URL, work: URL) throws -> [Synthesised] {
        let results = Mutex([Result<Synthesised, Error>?](repeating: nil, count: requests.count))
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            let request = requests[index]
            let scratch = work.appendingPathComponent("\(index).wav")
            let result = Result {
                try run("/usr/bin/env", arguments(of: request, writingTo: scratch.path), failure: "\(request.voice) failed on \"\(request.sentence)\"")
                defer { try? FileManager.default.removeItem(at: scratch) }
                let utterance = try SpeechCorpus.store(try WAVFile.read(from: scratch), as: request.audioPath, transcript: request.sentence, in: folder)
                return Synthesised(request: request, utterance: utterance)
            }
            results.withLock { $0[index] = result }
        }
        return try results.withLock { try $0.map { try $0!.get() } }
    }

    func arguments(of request: SynthesisRequest, writingTo path: String) -> [String] {
        switch request.voice.engine {
        case .espeak:
            ["espeak-ng", "-v", request.voice.name, "-s", "\(Int(request.rate))", "-p", "\(Int(request.pitch))", "-w", path, request.sentence]
        case .flite:
            ["flite", "-voice", request.voice.name, "--setf", "duration_stretch=\(request.rate)", "--setf", "int_f0_target_mean=\(Int(request.pitch))",
             "-t", request.sentence, "-o", path]
        }
    }

    func onPath(_ program: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
        }
    }

    func run(_ executable: String, _ arguments: [String], failure: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CommandFailure("\(failure) (exit status \(process.terminationStatus))") }
    }
}
