import Foundation

/// Edit counts of a hypothesis against a reference: a minimum-edit (Levenshtein) alignment,
/// summed over utterances with `+`.
public struct ErrorCounts: Sendable, Equatable, CustomStringConvertible {
    public var substitutions = 0
    public var deletions = 0
    public var insertions = 0
    /// Units (words or characters) in the reference.
    public var referenceLength = 0

    public init(substitutions: Int = 0, deletions: Int = 0, insertions: Int = 0, referenceLength: Int = 0) {
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
        self.referenceLength = referenceLength
    }

    public var errors: Int { substitutions + deletions + insertions }
    /// (S + D + I) / N; can exceed 1. An empty reference gives 0 without errors and 1 with.
    public var rate: Double { referenceLength > 0 ? Double(errors) / Double(referenceLength) : (errors == 0 ? 0 : 1) }

    public static func + (a: ErrorCounts, b: ErrorCounts) -> ErrorCounts {
        ErrorCounts(substitutions: a.substitutions + b.substitutions, deletions: a.deletions + b.deletions,
                    insertions: a.insertions + b.insertions, referenceLength: a.referenceLength + b.referenceLength)
    }

    public var description: String {
        String(format: "%.2f%% (S %d, D %d, I %d, N %d)", 100 * rate, substitutions, deletions, insertions, referenceLength)
    }

    /// The counts of a minimum-edit alignment of `hypothesis` to `reference`; among alignments
    /// with the fewest edits, the one found by preferring substitutions, then deletions, then
    /// insertions when tracing back.
    public init<T: Equatable>(reference: [T], hypothesis: [T]) {
        let n = reference.count, m = hypothesis.count
        var cost = [Int](repeating: 0, count: (n + 1) * (m + 1))
        func index(_ i: Int, _ j: Int) -> Int { i * (m + 1) + j }
        for i in 0...n { cost[index(i, 0)] = i }
        for j in 0...m { cost[index(0, j)] = j }
        for i in stride(from: 1, through: n, by: 1) {
            for j in stride(from: 1, through: m, by: 1) {
                let diagonal = cost[index(i - 1, j - 1)] + (reference[i - 1] == hypothesis[j - 1] ? 0 : 1)
                cost[index(i, j)] = Swift.min(diagonal, cost[index(i - 1, j)] + 1, cost[index(i, j - 1)] + 1)
            }
        }
        self.init(referenceLength: n)
        var i = n, j = m
        while i > 0 || j > 0 {
            if i > 0 && j > 0 && cost[index(i, j)] == cost[index(i - 1, j - 1)] + (reference[i - 1] == hypothesis[j - 1] ? 0 : 1) {
                if reference[i - 1] != hypothesis[j - 1] { substitutions += 1 }
                i -= 1; j -= 1
            } else if i > 0 && cost[index(i, j)] == cost[index(i - 1, j)] + 1 {
                deletions += 1; i -= 1
            } else {
                insertions += 1; j -= 1
            }
        }
    }
}

/// Word and character error rates of transcripts. Both texts are first normalised by
/// ``normalizeTranscript(_:)``; words are the space-separated tokens of the normalised text,
/// characters its Unicode characters including the single spaces between words.
public enum ErrorRates {
    /// Word edit counts (WER = `.rate`).
    public static func words(reference: String, hypothesis: String) -> ErrorCounts {
        ErrorCounts(reference: words(of: reference), hypothesis: words(of: hypothesis))
    }

    /// Character edit counts (CER = `.rate`).
    public static func characters(reference: String, hypothesis: String) -> ErrorCounts {
        ErrorCounts(reference: Array(normalizeTranscript(reference)), hypothesis: Array(normalizeTranscript(hypothesis)))
    }

    static func words(of text: String) -> [Substring] {
        normalizeTranscript(text).split(separator: " ")
    }

    /// Lower case; every character that is neither a letter, a digit nor an apostrophe
    /// becomes a space; runs of spaces collapse to one; no leading or trailing space.
    /// "Ten of Clubs!" and "ten  of clubs" are equal after it; "don't" stays one word.
    public static func normalizeTranscript(_ text: String) -> String {
        let mapped = text.lowercased().map { $0.isLetter || $0.isNumber || $0 == "'" ? $0 : " " }
        return String(mapped).split(separator: " ").joined(separator: " ")
    }
}
