import Foundation

/// Corpus BLEU as sacreBLEU 2.6.0's `corpus_bleu` computes it with its defaults: the 13a
/// tokenizer (mteval-v13a), case-sensitive, n-grams up to 4, `exp` smoothing (a zero match
/// count at order n gets precision 100 / (2^k · total_n), k counting such orders), no effective
/// order, one reference per hypothesis, brevity penalty exp(1 − r/c) when c < r.
public struct BLEU: Sendable, Equatable {
    /// The score in [0, 100].
    public let score: Double
    /// Precisions (percent) of orders 1…4.
    public let precisions: [Double]
    public let brevityPenalty: Double
    /// Tokens of the hypotheses and of the references.
    public let hypothesisLength: Int
    public let referenceLength: Int

    /// The highest n-gram order.
    public static let order = 4

    /// BLEU of `hypotheses` against `references` (one each, same count).
    public init(hypotheses: [String], references: [String]) {
        precondition(hypotheses.count == references.count, "BLEU needs one reference per hypothesis, got \(hypotheses.count) and \(references.count)")
        var correct = [Int](repeating: 0, count: Self.order), total = correct
        var hypothesisLength = 0, referenceLength = 0
        for (hypothesis, reference) in zip(hypotheses, references) {
            let hypothesisTokens = tokenize13a(Self.trailingWhitespaceRemoved(hypothesis))
            let referenceTokens = tokenize13a(Self.trailingWhitespaceRemoved(reference))
            hypothesisLength += hypothesisTokens.count
            referenceLength += referenceTokens.count
            let referenceCounts = Self.ngramCounts(referenceTokens)
            for (ngram, count) in Self.ngramCounts(hypothesisTokens) {
                total[ngram.count - 1] += count
                correct[ngram.count - 1] += Swift.min(count, referenceCounts[ngram] ?? 0)
            }
        }
        self.hypothesisLength = hypothesisLength
        self.referenceLength = referenceLength
        var brevityPenalty = 1.0
        if hypothesisLength < referenceLength {
            brevityPenalty = hypothesisLength > 0 ? exp(1 - Double(referenceLength) / Double(hypothesisLength)) : 0
        }
        self.brevityPenalty = brevityPenalty
        var precisions = [Double](repeating: 0, count: Self.order)
        guard correct.contains(where: { $0 > 0 }) else {
            (score, self.precisions) = (0, precisions)
            return
        }
        var smoothing = 1.0
        for n in 0..<Self.order {
            if total[n] == 0 { break }
            if correct[n] == 0 {
                smoothing *= 2
                precisions[n] = 100 / (smoothing * Double(total[n]))
            } else {
                precisions[n] = 100 * Double(correct[n]) / Double(total[n])
            }
        }
        let logSum = precisions.reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
        score = brevityPenalty * exp(logSum / Double(Self.order))
        self.precisions = precisions
    }

    /// Python's `str.rstrip()`: the line without trailing whitespace.
    public static func trailingWhitespaceRemoved(_ line: String) -> String {
        var scalars = Array(line.unicodeScalars)
        while let last = scalars.last, last.isPythonWhitespace { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Counts of every n-gram (n = 1…4) of `tokens`.
    static func ngramCounts(_ tokens: [String]) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        for n in 1...order where tokens.count >= n {
            for start in 0...(tokens.count - n) { counts[tokens[start..<(start + n)], default: 0] += 1 }
        }
        return counts
    }
}

/// The tokens of mteval-v13a's tokenizer as sacreBLEU writes it: `<skipped>` removed, `-\n`
/// joined, newlines to spaces, the entities &quot; &amp; &lt; &gt; decoded, then punctuation
/// split off (periods and commas only when not between digits, dashes after a digit), and
/// the result split on whitespace.
public func tokenize13a(_ line: String) -> [String] {
    var text = line.replacingOccurrences(of: "<skipped>", with: "").replacingOccurrences(of: "-\n", with: "")
        .replacingOccurrences(of: "\n", with: " ")
    if text.contains("&") {
        for (entity, character) in [("&quot;", "\""), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")] {
            text = text.replacingOccurrences(of: entity, with: character)
        }
    }
    var scalars = [Unicode.Scalar](" \(text) ".unicodeScalars)
    scalars = scalars.flatMap { isSplitPunctuation($0) ? [" ", $0, " "] : [$0] }
    let space: Unicode.Scalar = " "
    // ([^0-9])([\.,]) → \1 \2 ; non-overlapping, left to right, as Python's re.sub.
    scalars = substitutePairs(scalars, first: { !isDigit($0) }, second: isPeriodOrComma) { [$0, space, $1, space] }
    // ([\.,])([^0-9]) → ' \1 \2'
    scalars = substitutePairs(scalars, first: isPeriodOrComma, second: { !isDigit($0) }) { [space, $0, space, $1] }
    // ([0-9])(-) → \1 \2
    scalars = substitutePairs(scalars, first: isDigit, second: { $0 == "-" }) { [$0, space, $1, space] }
    return splitOnPythonWhitespace(scalars)
}

/// One left-to-right pass of a two-character pattern: each non-overlapping match (a, b)
/// becomes `replacement(a, b)`.
private func substitutePairs(_ scalars: [Unicode.Scalar], first: (Unicode.Scalar) -> Bool, second: (Unicode.Scalar) -> Bool,
                             replacement: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
    var result: [Unicode.Scalar] = []
    result.reserveCapacity(scalars.count + scalars.count / 4)
    var index = 0
    while index < scalars.count {
        if index + 1 < scalars.count, first(scalars[index]), second(scalars[index + 1]) {
            result += replacement(scalars[index], scalars[index + 1])
            index += 2
        } else {
            result.append(scalars[index])
            index += 1
        }
    }
    return result
}

/// 13a's first class: `[{-~[-` -&(-+:-@/]`.
private func isSplitPunctuation(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F: true
    default: false
    }
}

private func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }

private func isPeriodOrComma(_ s: Unicode.Scalar) -> Bool { s == "." || s == "," }

extension Unicode.Scalar {
    /// Whether Python's `str.isspace()` holds (what `str.split()` splits on): Unicode White_Space
    /// plus the information separators U+001C–U+001F.
    var isPythonWhitespace: Bool {
        (0x1C...0x1F).contains(value) || properties.isWhitespace
    }
}

/// Python's `str.split()` of a sequence of scalars.
func splitOnPythonWhitespace(_ scalars: some Sequence<Unicode.Scalar>) -> [String] {
    var words: [String] = [], current = String.UnicodeScalarView()
    for scalar in scalars {
        if scalar.isPythonWhitespace {
            if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { words.append(String(current)) }
    return words
}
