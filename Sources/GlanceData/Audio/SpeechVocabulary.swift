import Foundation

/// The output characters of a character-level recogniser: index 0 is the CTC blank, then space,
/// apostrophe and the lowercase letters a–z. Saved beside a speech corpus as `vocabulary.json`:
/// `{"blank": 0, "tokens": ["<blank>", " ", "'", "a", …, "z"]}`.
public struct SpeechVocabulary: Sendable, Equatable, Codable {
    /// The name of the blank in `tokens`.
    public static let blankToken = "<blank>"
    /// The vocabulary of Glance's speech corpora.
    public static let english = SpeechVocabulary(characters: [" ", "'"] + "abcdefghijklmnopqrstuvwxyz".map { $0 })
    /// The file name of a corpus's vocabulary.
    public static let fileName = "vocabulary.json"

    /// Index of the CTC blank (always 0).
    public let blank: Int
    /// Every output unit by index: the blank, then one character each.
    public let tokens: [String]

    public init(characters: [Character]) {
        blank = 0
        tokens = [Self.blankToken] + characters.map(String.init)
    }

    /// The label index of `character`, or nil when it is not in the vocabulary.
    public func index(of character: Character) -> Int? {
        tokens.firstIndex(of: String(character)).flatMap { $0 == blank ? nil : $0 }
    }

    /// The labels of `text`, or nil when one of its characters is not in the vocabulary.
    public func encode(_ text: String) -> [Int]? {
        var labels = [Int]()
        labels.reserveCapacity(text.count)
        for character in text {
            guard let label = index(of: character) else { return nil }
            labels.append(label)
        }
        return labels
    }

    /// The text of `labels` (blanks skipped).
    public func decode(_ labels: [Int]) -> String {
        labels.filter { $0 != blank && tokens.indices.contains($0) }.map { tokens[$0] }.joined()
    }

    /// The first character of `text` outside the vocabulary, if any.
    public func firstForeignCharacter(in text: String) -> Character? {
        text.first { index(of: $0) == nil }
    }

    /// Writes `vocabulary.json` into `folder`.
    public func write(into folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: folder.appendingPathComponent(Self.fileName))
    }

    /// Reads `vocabulary.json` from `folder`, checking that the blank is index 0 and that every
    /// other token is one character, each once.
    public static func read(from folder: URL) throws -> SpeechVocabulary {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw SpeechCorpusError.missingFile(path: url.path) }
        let vocabulary: SpeechVocabulary
        do { vocabulary = try JSONDecoder().decode(SpeechVocabulary.self, from: Data(contentsOf: url)) } catch {
            throw SpeechCorpusError.invalidVocabulary(path: url.path, reason: "\(error)")
        }
        guard vocabulary.blank == 0, vocabulary.tokens.first == blankToken else {
            throw SpeechCorpusError.invalidVocabulary(path: url.path, reason: "the blank must be token 0, named \"\(blankToken)\"")
        }
        let characters = vocabulary.tokens.dropFirst()
        if let bad = characters.first(where: { $0.count != 1 }) {
            throw SpeechCorpusError.invalidVocabulary(path: url.path, reason: "token \"\(bad)\" is not one character")
        }
        guard Set(characters).count == characters.count else {
            throw SpeechCorpusError.invalidVocabulary(path: url.path, reason: "a token appears twice")
        }
        return vocabulary
    }
}
