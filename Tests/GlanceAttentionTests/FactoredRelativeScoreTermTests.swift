import Foundation
@testable import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// The factored relative score term (position queries and keys, computed block by block in the
/// kernel) against the same term stored as [B, H, Nq, R] scores, forward and gradients of every
/// input, and against finite differences.
@Suite struct FactoredRelativeScoreTermTests {
    struct FactoredCase: CustomStringConvertible, Sendable {
        var batch = 2
        var heads = 2
        var queries: Int
        var keys: Int
        var depth = 3
        var positionDepth = 2
        var causal = false
        var padded = false
        /// Columns beyond the distances the call needs, on each side.
        var spare = 0

        var description: String {
            "B\(batch) H\(heads) Nq\(queries) Nk\(keys)\(causal ? " causal" : "")\(padded ? " padded" : "")\(spare > 0 ? " spare\(spare)" : "")"
        }

        var largestDistance: Int { keys - 1 + spare }
        var distances: Int { keys + (causal ? 0 : queries - 1) + 2 * spare }
        var keyPadding: [[Bool]]? {
            padded ? randomPadding(batch: batch, keys: keys, seed: UInt64(keys * 17)).map { [true] + $0.dropFirst() } : nil
        }

        /// q, k, v [B, H, N, D], position queries [B, Nq, H·Dp], position keys [R, H·Dp].
        func inputs(seed: UInt64) -> [Tensor] {
            var random = TestRandom(seed: seed)
            return [random.normal([batch, heads, queries, depth]), random.normal([batch, heads, keys, depth]),
                    random.normal([batch, heads, keys, depth]), random.normal([batch, queries, heads * positionDepth]),
                    random.normal([distances, heads * positionDepth])]
        }

        func attention(_ t: [Tensor], stored: Bool) -> Tensor {
            var term = RelativeScoreTerm(positionQueries: t[3], positionKeys: t[4], scale: 0.7, largestDistance: largestDistance)
            if stored { term = RelativeScoreTerm(scores: relativePositionScores(term, heads: heads), largestDistance: largestDistance) }
            return scaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], causal: causal, keyPadding: keyPadding,
                                             relativeScores: term)
        }
    }

    static let cases: [FactoredCase] = [
        FactoredCase(queries: 3, keys: 7, causal: true),
        FactoredCase(queries: 4, keys: 9, causal: true, padded: true, spare: 1),
        FactoredCase(queries: 4, keys: 4),
        FactoredCase(queries: 4, keys: 6, padded: true, spare: 2),
        // Several query blocks, two 512-key blocks, a band reaching past the covered distances.
        FactoredCase(batch: 1, heads: 2, queries: 150, keys: 700, causal: true, padded: true),
        FactoredCase(batch: 2, heads: 1, queries: 300, keys: 520, padded: true, spare: 1),
        FactoredCase(batch: 2, heads: 2, queries: 130, keys: 130, causal: true),
    ]

    @Test("the factored term equals the stored one, forward and every gradient", arguments: cases)
    func equalsStoredTerm(_ c: FactoredCase) {
        let inputs = c.inputs(seed: 1)
        let expected = withoutGradients { c.attention(inputs, stored: true) }
        let actual = withoutGradients { c.attention(inputs, stored: false) }
        #expect(relativeError(actual, expected) <= 1e-5, "\(c): max difference \(maxAbsoluteDifference(actual, expected))")
        let seed = randomTensor([c.batch, c.heads, c.queries, c.depth], seed: 3)
        let factored = valueAndGradient(at: inputs) { (c.attention($0, stored: false) * seed).sum() }.gradients
        let stored = valueAndGradient(at: inputs) { (c.attention($0, stored: true) * seed).sum() }.gradients
        for (index, (a, e)) in zip(factored, stored).enumerated() {
            #expect(relativeError(a, e) <= 1e-5, "\(c) input \(index): relative error \(relativeError(a, e))")
        }
    }

    @Test("gradients match finite differences", arguments: cases.filter { $0.queries * $0.keys <= 50 })
    func gradientCheck(_ c: FactoredCase) {
        expectGradientsMatch(c.inputs(seed: 4), labels: "\(c)") { c.attention($0, stored: false) }
    }
}
