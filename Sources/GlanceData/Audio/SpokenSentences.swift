/// Sentences of a plain English text, normalised to what a speech synthesiser says and a
/// ``SpeechVocabulary/english`` transcript can hold.
public enum SpokenSentences {
    /// Characters that end a sentence.
    static let terminators: Set<Character> = [".", "!", "?", ";", ":"]
    /// Punctuation dropped from a sentence (it is not spoken); any other character that is not a
    /// letter, apostrophe or space rejects the sentence (digits, symbols, letters outside a–z).
    static let silentPunctuation: Set<Character> = [",", "\"", "(", ")", "_", "`", "\u{201C}", "\u{201D}"]

    /// `text` in lowercase with dashes and hyphens as spaces, silent punctuation dropped,
    /// apostrophes kept only inside words (‘’ as '), single spaces; nil when it holds any other
    /// character, a word in capitals (a heading or Roman numeral) or a one-letter word other
    /// than "a" and "i".
    public static func normalise(_ text: some StringProtocol) -> String? {
        var cleaned = ""
        for character in text {
            switch character {
            case "-", "\u{2013}", "\u{2014}", " ", "\t", "\n", "\r": cleaned.append(" ")
            case "'", "\u{2018}", "\u{2019}": cleaned.append("'")
            case _ where silentPunctuation.contains(character): continue
            case _ where character.isASCII && character.isLetter: cleaned.append(character)
            default: return nil
            }
        }
        var words = [String]()
        for raw in cleaned.split(separator: " ") {
            let word = raw.drop { $0 == "'" }.reversed().drop { $0 == "'" }.reversed()
            guard !word.isEmpty else { continue }
            let text = String(word)
            if text.count > 1 && text.allSatisfy({ $0.isUppercase || $0 == "'" }) { return nil }
            let lower = text.lowercased()
            if lower.count == 1 && lower != "a" && lower != "i" { return nil }
            words.append(lower)
        }
        return words.isEmpty ? nil : words.joined(separator: " ")
    }

    /// The distinct sentences of `text` (split at . ! ? ; :) whose normalised form has a word
    /// count in `words`, normalised, in order of first appearance.
    public static func extract(from text: String, words: ClosedRange<Int> = 3...20) -> [String] {
        var sentences = [String](), seen = Set<String>()
        var current = ""
        func finish() {
            if let sentence = normalise(current), words.contains(sentence.split(separator: " ").count), seen.insert(sentence).inserted {
                sentences.append(sentence)
            }
            current = ""
        }
        for character in text {
            if terminators.contains(character) { finish() } else { current.append(character) }
        }
        finish()
        return sentences
    }
}
