import Foundation

/// Corpus chrF as sacreBLEU 2.6.0's `corpus_chrf` computes it with its defaults (chrF2): character
/// n-grams of orders 1…6 with whitespace removed, case-sensitive, one reference per hypothesis
/// (a hypothesis's n-grams of an order its reference lacks do not count);
/// the n-gram counts of the corpus are summed per order, precision and recall averaged over
/// the orders seen in both (the effective order), and combined as F_β with β = 2:
/// 100 · (1 + β²)·P·R / (β²·P + R).
public struct ChrF: Sendable, Equatable {
    /// The score in [0, 100].
    public let score: Double

    public static let characterOrder = 6
    public static let beta = 2.0

    /// chrF of `hypotheses` against `references` (one each, same count).
    public init(hypotheses: [String], references: [String]) {
        precondition(hypotheses.count == references.count, "chrF needs one reference per hypothesis, got \(hypotheses.count) and \(references.count)")
        var hypothesisCounts = [Int](repeating: 0, count: Self.characterOrder), referenceCounts = hypothesisCounts, matches = hypothesisCounts
        for (hypothesis, reference) in zip(hypotheses, references) {
            let h = Self.characters(hypothesis), r = Self.characters(reference)
            for n in 1...Self.characterOrder {
                let hypothesisGrams = Self.ngramCounts(h, n), referenceGrams = Self.ngramCounts(r, n)
                // sacreBLEU counts a hypothesis's n-grams only when the reference has n-grams of that order.
                if !referenceGrams.isEmpty { hypothesisCounts[n - 1] += Swift.max(h.count - n + 1, 0) }
                referenceCounts[n - 1] += Swift.max(r.count - n + 1, 0)
                for (gram, count) in hypothesisGrams { matches[n - 1] += Swift.min(count, referenceGrams[gram] ?? 0) }
            }
        }
        var precision = 0.0, recall = 0.0, effectiveOrder = 0
        for n in 0..<Self.characterOrder where hypothesisCounts[n] > 0 && referenceCounts[n] > 0 {
            precision += Double(matches[n]) / Double(hypothesisCounts[n])
            recall += Double(matches[n]) / Double(referenceCounts[n])
            effectiveOrder += 1
        }
        if effectiveOrder > 0 { (precision, recall) = (precision / Double(effectiveOrder), recall / Double(effectiveOrder)) }
        let factor = Self.beta * Self.beta
        score = precision + recall > 0 ? 100 * (1 + factor) * precision * recall / (factor * precision + recall) : 0
    }

    /// The line's Unicode scalars without whitespace (Python's `''.join(line.split())`).
    static func characters(_ line: String) -> [Unicode.Scalar] {
        line.unicodeScalars.filter { !$0.isPythonWhitespace }
    }

    /// Counts of the n-grams of `scalars`.
    static func ngramCounts(_ scalars: [Unicode.Scalar], _ n: Int) -> [ArraySlice<Unicode.Scalar>: Int] {
        var counts: [ArraySlice<Unicode.Scalar>: Int] = [:]
        guard scalars.count >= n else { return counts }
        for start in 0...(scalars.count - n) { counts[scalars[start..<(start + n)], default: 0] += 1 }
        return counts
    }
}
