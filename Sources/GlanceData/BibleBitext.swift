import Foundation

/// The verse-aligned English–Spanish Bible bitext: the King James Version and the Reina-Valera
/// 1909 from Debian's SWORD modules (engKJV2006eb, spaRV1909eb), which share the KJV
/// versification, as `diatheke -f plain` prints them ("Book C:V: text" lines).
///
/// Verses are joined on their reference; Strong's numbers (`<G5547>`, `<H07225>`) are removed,
/// whitespace collapsed, and verses empty in either text dropped. The split is by book, so
/// that no chapter is shared between training and evaluation: ``validationBooks`` and
/// ``testBooks`` below, every other book trains.
public enum BibleBitext {
    /// Validation books (≈ 460 verses).
    public static let validationBooks: Set<String> = ["Ruth", "Esther", "Galatians", "II Peter"]
    /// Test books (≈ 1,300 verses).
    public static let testBooks: Set<String> = ["Jonah", "Daniel", "Mark", "James", "I John"]

    /// One verse: its book and reference ("Genesis 1:1").
    public struct Verse: Equatable, Sendable {
        public let book: String
        public let reference: String
        public let text: String
    }

    /// The verses of a `diatheke -f plain` dump, in order. Each verse is one line ("Book C:V:
    /// text", possibly indented); other lines are skipped: the final "(module)" line and the
    /// section headings that diatheke repeats before verses (the KJV's Psalm titles).
    public static func verses(ofDump text: String) -> [Verse] {
        text.split(separator: "\n").compactMap { line in
            parseVerse(String(line.drop { $0 == " " || $0 == "\t" })).map { Verse(book: $0.book, reference: $0.reference, text: cleaned($0.text)) }
        }
    }

    /// "Book C:V: text" → the verse, or nil.
    static func parseVerse(_ line: String) -> Verse? {
        guard let colonSpace = line.range(of: ": ") else { return nil }
        let reference = line[..<colonSpace.lowerBound]
        guard let space = reference.lastIndex(of: " ") else { return nil }
        let numbers = reference[reference.index(after: space)...].split(separator: ":")
        guard numbers.count == 2, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        return Verse(book: String(reference[..<space]), reference: String(reference), text: String(line[colonSpace.upperBound...]))
    }

    /// Strong's numbers removed, whitespace collapsed to single spaces.
    static func cleaned(_ text: String) -> String {
        let withoutTags = text.replacingOccurrences(of: #"\s*<[GH][0-9]+>"#, with: "", options: .regularExpression)
        return splitOnPythonWhitespace(withoutTags.unicodeScalars).joined(separator: " ")
    }

    /// The train/valid/test bitexts (English source, Spanish target) of the two dumps: verses
    /// joined on their reference, empty ones dropped.
    public static func splits(english: String, spanish: String) -> [Bitext.Split: Bitext] {
        let spanishVerses = Dictionary(verses(ofDump: spanish).map { ($0.reference, $0.text) }, uniquingKeysWith: { first, _ in first })
        var pairs: [Bitext.Split: (source: [String], target: [String])] = [.train: ([], []), .valid: ([], []), .test: ([], [])]
        for verse in verses(ofDump: english) {
            guard !verse.text.isEmpty, let translation = spanishVerses[verse.reference], !translation.isEmpty else { continue }
            let split: Bitext.Split = testBooks.contains(verse.book) ? .test : validationBooks.contains(verse.book) ? .valid : .train
            pairs[split]!.source.append(verse.text)
            pairs[split]!.target.append(translation)
        }
        return pairs.mapValues { Bitext(source: $0.source, target: $0.target) }
    }
}
