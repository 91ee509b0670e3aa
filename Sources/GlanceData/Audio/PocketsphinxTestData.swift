import Foundation

/// The transcribed real recordings of Debian's `pocketsphinx-testdata`: 5 LibriVox utterances of
/// *Sense and Sensibility* and 5 spoken card names ("ten of clubs"), 16 kHz mono WAVs.
public enum PocketsphinxTestData {
    /// Where the package installs its data.
    public static let defaultFolder = URL(fileURLWithPath: "/usr/share/pocketsphinx/test/data")

    /// The recording sets: folder and transcription file, relative to the data folder.
    public static let sets: [(folder: String, transcription: String)] = [("librivox", "transcription"), ("cards", "cards.transcription")]

    /// One transcribed recording.
    public struct Recording: Sendable, Equatable {
        public let audio: URL
        public let transcript: String
    }

    /// Parses a Sphinx transcription file, one `<s> WORDS </s> (ID)` per line; the transcript
    /// is normalised with ``SpokenSentences/normalise(_:)`` and must fit `vocabulary`. Errors
    /// name the file and line.
    public static func transcripts(in url: URL, vocabulary: SpeechVocabulary) throws -> [(id: String, transcript: String)] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw SpeechCorpusError.missingFile(path: url.path) }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SpeechCorpusError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        var entries = [(id: String, transcript: String)]()
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard trimmed.hasSuffix(")"), let open = trimmed.lastIndex(of: "(") else {
                throw SpeechCorpusError.malformedLine(path: url.path, line: offset + 1, reason: "expected `<s> WORDS </s> (ID)`")
            }
            let id = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            let words = trimmed[..<open].split(separator: " ").filter { $0 != "<s>" && $0 != "</s>" }.joined(separator: " ")
            guard !words.isEmpty else { throw SpeechCorpusError.emptyTranscript(path: url.path, line: offset + 1) }
            guard let transcript = SpokenSentences.normalise(words) else {
                throw SpeechCorpusError.malformedLine(path: url.path, line: offset + 1, reason: "the transcript \"\(words)\" cannot be written in the vocabulary (digits, symbols, a word in capitals or a stray letter)")
            }
            if let character = vocabulary.firstForeignCharacter(in: transcript) {
                throw SpeechCorpusError.foreignCharacter(path: url.path, line: offset + 1, character: character)
            }
            entries.append((id, transcript))
        }
        return entries
    }

    /// Every transcribed recording under `folder`.
    public static func recordings(in folder: URL = defaultFolder, vocabulary: SpeechVocabulary = .english) throws -> [Recording] {
        try sets.flatMap { set in
            let directory = folder.appendingPathComponent(set.folder)
            return try transcripts(in: directory.appendingPathComponent(set.transcription), vocabulary: vocabulary).map {
                Recording(audio: directory.appendingPathComponent("\($0.id).wav"), transcript: $0.transcript)
            }
        }
    }
}
