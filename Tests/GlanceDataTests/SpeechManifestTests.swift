import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct SpeechManifestTests {
    static let tone = MonoAudio(samples: (0..<2205).map { Float(sin(Double($0) * 0.2)) * 0.5 }, sampleRate: 22_050)

    /// A corpus folder with two stored utterances, their manifest and the vocabulary.
    static func corpus(in folder: URL) throws -> [SpeechUtterance] {
        let utterances = [
            try SpeechCorpus.store(tone, as: "audio/train/000000.wav", transcript: "one's own opinion", in: folder),
            try SpeechCorpus.store(tone, as: "audio/train/000001.wav", transcript: "harmony", in: folder),
        ]
        try SpeechManifest.write(utterances, to: SpeechCorpus.manifestURL(of: .train, in: folder))
        try SpeechVocabulary.english.write(into: folder)
        return utterances
    }

    @Test("stored WAVs are 16 kHz; the manifest and vocabulary read back as written")
    func roundTrip() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let written = try Self.corpus(in: folder)
        let corpus = try SpeechCorpus(folder: folder)
        #expect(corpus.vocabulary == .english)
        let read = try corpus.utterances(of: .train)
        #expect(read.map(\.audioPath) == written.map(\.audioPath))
        #expect(read.map(\.transcript) == ["one's own opinion", "harmony"])
        #expect(abs(read[0].seconds - 0.1) < 1e-3)
        let audio = try corpus.audio(of: read[1])
        #expect(audio.sampleRate == 16_000)
        #expect(abs(audio.samples.count - 1600) <= 1)
        #expect(try WAVFile.read(from: corpus.audioURL(of: read[0])).sampleRate == 16_000)
    }

    @Test("the vocabulary: blank 0, space, apostrophe, a–z; encode and decode; bad vocabulary files")
    func vocabulary() throws {
        let vocabulary = SpeechVocabulary.english
        #expect(vocabulary.tokens.count == 29)
        #expect(vocabulary.tokens.prefix(4) == ["<blank>", " ", "'", "a"])
        #expect(vocabulary.encode("a b'z") == [3, 1, 4, 2, 28])
        #expect(vocabulary.encode("Ab") == nil)
        #expect(vocabulary.decode([0, 3, 0, 1, 28]) == "a z")
        #expect(vocabulary.firstForeignCharacter(in: "abc.d") == ".")
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let url = folder.appendingPathComponent("vocabulary.json")
        #expect(throws: SpeechCorpusError.missingFile(path: url.path)) { try SpeechVocabulary.read(from: folder) }
        for (json, reason) in [(#"{"blank": 0, "tokens": ["a", "<blank>"]}"#, "the blank must be token 0"),
                               (#"{"blank": 0, "tokens": ["<blank>", "ab"]}"#, "token \"ab\" is not one character"),
                               (#"{"blank": 0, "tokens": ["<blank>", "a", "a"]}"#, "a token appears twice"),
                               (#"{"tokens": []}"#, "blank")] {
            try Data(json.utf8).write(to: url)
            let error = try #require(throws: SpeechCorpusError.self) { try SpeechVocabulary.read(from: folder) }
            #expect("\(error)".contains(url.path) && "\(error)".contains(reason), "\(error)")
        }
    }

    @Test("every manifest error names the file and line", arguments: [
        ("audio/train/000000.wav\t1.0\tfine\naudio/train/000001.wav\t1.0\n", "line 2: expected 3 tab-separated fields"),
        ("audio/train/000000.wav\tlong\tword\n", "line 1: the length \"long\" is not a positive number"),
        ("audio/train/000000.wav\t0\tword\n", "line 1: the length \"0\" is not a positive number"),
        ("/tmp/x.wav\t1.0\tword\n", "line 1: the audio path \"/tmp/x.wav\" must be relative"),
        ("\n\naudio/train/000000.wav\t1.0\t\n", "line 3: the transcript is empty"),
        ("audio/train/000000.wav\t1.0\tHello\n", "line 1: the transcript holds \"H\" (U+48)"),
        ("audio/train/000000.wav\t1.0\tnine 9\n", "line 1: the transcript holds \"9\""),
        ("audio/train/000000.wav\t1.0\tword\r\naudio/train/000009.wav\t1.0\tword\r\n", "line 2: the audio file"),
        ("\n", "holds no utterances"),
    ])
    func errors(manifest: String, message: String) throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        _ = try Self.corpus(in: folder)
        let url = SpeechCorpus.manifestURL(of: .valid, in: folder)
        try Data(manifest.utf8).write(to: url)
        let error = try #require(throws: SpeechCorpusError.self) { try SpeechCorpus(folder: folder).utterances(of: .valid) }
        #expect("\(error)".contains(url.path) && "\(error)".contains(message), "\(error)")
    }

    @Test("a missing manifest says how to build the corpus")
    func missingManifest() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        _ = try Self.corpus(in: folder)
        let error = try #require(throws: SpeechCorpusError.self) { try SpeechCorpus(folder: folder).utterances(of: .testReal) }
        #expect("\(error)".contains("test-real.tsv") && "\(error)".contains("glance data fetch --corpus speech"), "\(error)")
    }
}
