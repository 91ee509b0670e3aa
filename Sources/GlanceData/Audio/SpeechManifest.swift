import Foundation

/// One labelled recording of a speech corpus.
public struct SpeechUtterance: Sendable, Equatable {
    /// The WAV file, relative to the corpus folder (forward slashes).
    public var audioPath: String
    /// The length of the audio in seconds.
    public var seconds: Double
    /// What is said, in the corpus's vocabulary.
    public var transcript: String

    public init(audioPath: String, seconds: Double, transcript: String) {
        self.audioPath = audioPath
        self.seconds = seconds
        self.transcript = transcript
    }
}

/// The manifest of one split of a speech corpus: a UTF-8 text file, one utterance per line,
/// three tab-separated fields `AUDIO<TAB>SECONDS<TAB>TRANSCRIPT`: the WAV path relative to the
/// corpus folder, its length in seconds (a decimal number > 0), and the transcript (characters
/// of the corpus's ``SpeechVocabulary`` only, not empty). No header; empty lines are skipped.
public enum SpeechManifest {
    /// Writes `utterances` to `url`.
    public static func write(_ utterances: [SpeechUtterance], to url: URL) throws {
        let lines = utterances.map { utterance in
            precondition(!utterance.audioPath.contains(where: { $0 == "\t" || $0.isNewline })
                && !utterance.transcript.contains(where: { $0 == "\t" || $0.isNewline }),
                "a manifest field holds a tab or newline: \(utterance)")
            return "\(utterance.audioPath)\t\(String(format: "%.3f", utterance.seconds))\t\(utterance.transcript)\n"
        }
        try Data(lines.joined().utf8).write(to: url)
    }

    /// Reads the manifest at `url`, checking each line: three fields, a positive length, a
    /// non-empty transcript in `vocabulary` and (when `checkingAudioIn` is given) that the WAV
    /// exists under that folder. Errors name the file and the line.
    public static func read(from url: URL, vocabulary: SpeechVocabulary, checkingAudioIn folder: URL? = nil) throws -> [SpeechUtterance] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw SpeechCorpusError.missingFile(path: url.path) }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SpeechCorpusError.unreadable(path: url.path, reason: "not UTF-8 text (\(error.localizedDescription))")
        }
        var utterances = [SpeechUtterance]()
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() where !line.isEmpty {
            utterances.append(try parse(line, number: offset + 1, path: url.path, vocabulary: vocabulary, folder: folder))
        }
        guard !utterances.isEmpty else { throw SpeechCorpusError.emptySplit(path: url.path) }
        return utterances
    }

    static func parse(_ line: Substring, number: Int, path: String, vocabulary: SpeechVocabulary, folder: URL?) throws -> SpeechUtterance {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            throw SpeechCorpusError.malformedLine(path: path, line: number, reason: "expected 3 tab-separated fields (audio, seconds, transcript), found \(fields.count)")
        }
        let audio = String(fields[0])
        guard !audio.isEmpty, !audio.hasPrefix("/") else {
            throw SpeechCorpusError.malformedLine(path: path, line: number, reason: "the audio path \"\(audio)\" must be relative to the corpus folder")
        }
        guard let seconds = Double(fields[1]), seconds.isFinite, seconds > 0 else {
            throw SpeechCorpusError.malformedLine(path: path, line: number, reason: "the length \"\(fields[1])\" is not a positive number of seconds")
        }
        let transcript = String(fields[2])
        guard !transcript.isEmpty else { throw SpeechCorpusError.emptyTranscript(path: path, line: number) }
        if let character = vocabulary.firstForeignCharacter(in: transcript) {
            throw SpeechCorpusError.foreignCharacter(path: path, line: number, character: character)
        }
        if let folder, !FileManager.default.fileExists(atPath: folder.appendingPathComponent(audio).path) {
            throw SpeechCorpusError.missingAudio(path: path, line: number, audio: folder.appendingPathComponent(audio).path)
        }
        return SpeechUtterance(audioPath: audio, seconds: seconds, transcript: transcript)
    }
}
