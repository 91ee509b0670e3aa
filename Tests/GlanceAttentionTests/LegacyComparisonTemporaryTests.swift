import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

// TEMPORARY: the blockwise kernel against today's (probability-storing) kernel.
@Suite struct LegacyComparisonTemporaryTests {
    typealias TermCase = ScaledDotProductAttentionTermTests.TermCase

    static func legacy(_ c: TermCase, _ t: [Tensor]) -> Tensor {
        let term = c.termBatch.map { _ in RelativeScoreTerm(scores: t[3], largestDistance: c.largestDistance) }
        let weights = c.mask ? PostSoftmaxMask(weights: t[t.count - 1], largestDistance: c.largestDistance) : nil
        return _legacyScaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], causal: c.causal, keyPadding: c.keyPadding,
                                                relativeScores: term, postSoftmaxMask: weights)
    }

    static let cases: [TermCase] = ScaledDotProductAttentionTermTests.cases + [
        TermCase(queries: 600, keys: 600, depth: 8, valueDepth: 8),
        TermCase(queries: 600, keys: 600, depth: 8, valueDepth: 8, causal: true, padded: true),
        TermCase(queries: 300, keys: 1100, depth: 4, valueDepth: 5, padded: true),
        TermCase(queries: 1100, keys: 300, depth: 4, valueDepth: 5, padded: true),
        TermCase(queries: 260, keys: 900, depth: 4, valueDepth: 4, causal: true, padded: true, termBatch: 2, mask: true),
        TermCase(queries: 530, keys: 530, depth: 4, valueDepth: 4, padded: true, termBatch: 1, mask: true),
        TermCase(queries: 530, keys: 530, depth: 4, valueDepth: 4, causal: true, termBatch: 1),
    ]

    @Test("equal to today's kernel: output and every gradient", arguments: cases)
    func equal(_ c: TermCase) {
        let inputs = c.inputs(seed: 9)
        let seed = randomTensor([c.batch, c.heads, c.queries, c.valueDepth], seed: 3)
        let new = valueAndGradient(at: inputs) { (c.kernel($0) * seed).sum() }
        let old = valueAndGradient(at: inputs) { (Self.legacy(c, $0) * seed).sum() }
        let outNew = withoutGradients { c.kernel(inputs) }, outOld = withGradients { Self.legacy(c, inputs.map { $0.requiringGradient() }).detached() }
        let outRecorded = withGradients { c.kernel(inputs.map { $0.requiringGradient() }).detached() }
        var line = "LEGACY \(c): out \(maxAbsoluteDifference(outNew, outOld)) rec \(maxAbsoluteDifference(outRecorded, outOld))"
        #expect(relativeError(outRecorded, outOld) <= 1e-5)
        for (index, (a, e)) in zip(new.gradients, old.gradients).enumerated() {
            line += " g\(index) \(maxAbsoluteDifference(a, e))/\(String(format: "%.2g", relativeError(a, e)))"
            #expect(maxAbsoluteDifference(a, e) <= 1e-5 || relativeError(a, e) <= 1e-5, "\(c) input \(index)")
        }
        print(line)
    }
}
