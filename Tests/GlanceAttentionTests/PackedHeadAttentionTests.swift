import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// Attention on heads packed in the projections' [B, N, H·D] rows against the head-major
/// kernel on split copies, forward and gradients, and against finite differences.
@Suite struct PackedHeadAttentionTests {
    static let selfCases: [AttentionCase] = [
        AttentionCase(batch: 2, heads: 2, queries: 5, keys: 5, depth: 3, valueDepth: 3),
        AttentionCase(batch: 2, heads: 2, queries: 6, keys: 6, depth: 3, valueDepth: 3, causal: true, keyPadding: padding(batch: 2, keys: 6)),
        AttentionCase(heads: 3, queries: 300, keys: 300, causal: true),
        AttentionCase(heads: 2, queries: 530, keys: 530, depth: 2, valueDepth: 2, keyPadding: padding(batch: 1, keys: 530)),
    ]

    static let crossCases: [AttentionCase] = [
        AttentionCase(batch: 2, heads: 2, queries: 4, keys: 7, depth: 3, valueDepth: 3),
        AttentionCase(batch: 2, heads: 2, queries: 7, keys: 4, depth: 3, valueDepth: 3, keyPadding: padding(batch: 2, keys: 4)),
        AttentionCase(batch: 2, heads: 2, queries: 3, keys: 8, depth: 3, valueDepth: 3, causal: true, keyPadding: padding(batch: 2, keys: 8)),
        AttentionCase(heads: 2, queries: 260, keys: 700, causal: true, keyPadding: padding(batch: 1, keys: 700)),
    ]

    /// Random padding that keeps key 0 real (the causal first query sees it).
    static func padding(batch: Int, keys: Int) -> [[Bool]] {
        randomPadding(batch: batch, keys: keys, seed: UInt64(keys * 17)).map { [true] + $0.dropFirst() }
    }

    /// Queries, keys and values of a self-attention case side by side in one [B, N, 3·H·D] tensor.
    static func packed(_ c: AttentionCase, seed: UInt64) -> Tensor { randomTensor([c.batch, c.queries, 3 * c.width], seed: seed) }

    static func sections(_ t: Tensor, count: Int) -> [Tensor] {
        let width = t.shape[2] / count
        return (0..<count).map { t.sliced(alongAxis: 2, ($0 * width)..<(($0 + 1) * width)) }
    }

    @Test("packed self-attention equals the head-major kernel, forward and gradient", arguments: selfCases)
    func selfAttention(_ c: AttentionCase) {
        let input = Self.packed(c, seed: 1)
        let seed = randomTensor([c.batch, c.queries, c.width], seed: 2)
        let actual = valueAndGradient(at: [input]) { (packedSelfAttention($0[0], heads: c.heads, causal: c.causal, keyPadding: c.keyPadding) * seed).sum() }
        let expected = valueAndGradient(at: [input]) { t in
            let s = Self.sections(t[0], count: 3)
            return (c.split(s[0], s[1], s[2]) * seed).sum()
        }
        #expect(abs(actual.value.item() - expected.value.item()) <= 1e-4 * max(1, abs(expected.value.item())), "\(c)")
        #expect(relativeError(actual.gradients[0], expected.gradients[0]) <= 1e-5, "\(c): \(maxAbsoluteDifference(actual.gradients[0], expected.gradients[0]))")
        let output = withoutGradients { packedSelfAttention(input, heads: c.heads, causal: c.causal, keyPadding: c.keyPadding) }
        let reference = withoutGradients { let s = Self.sections(input, count: 3); return c.split(s[0], s[1], s[2]) }
        #expect(output.shape == [c.batch, c.queries, c.width])
        #expect(relativeError(output, reference) <= 1e-6, "\(c)")
    }

    @Test("packed attention to keys and values equals the head-major kernel, forward and gradients", arguments: crossCases)
    func crossAttention(_ c: AttentionCase) {
        let inputs = [randomTensor([c.batch, c.queries, c.width], seed: 3), randomTensor([c.batch, c.keys, 2 * c.width], seed: 4)]
        let seed = randomTensor([c.batch, c.queries, c.width], seed: 5)
        let actual = valueAndGradient(at: inputs) {
            (packedAttention(queries: $0[0], keysAndValues: $0[1], heads: c.heads, causal: c.causal, keyPadding: c.keyPadding) * seed).sum()
        }
        let expected = valueAndGradient(at: inputs) { t in
            let s = Self.sections(t[1], count: 2)
            return (c.split(t[0], s[0], s[1]) * seed).sum()
        }
        for (index, (a, e)) in zip(actual.gradients, expected.gradients).enumerated() {
            #expect(relativeError(a, e) <= 1e-5, "\(c) input \(index): \(maxAbsoluteDifference(a, e))")
        }
    }

    @Test("packed self- and cross-attention gradients match finite differences")
    func gradientCheck() {
        let c = AttentionCase(batch: 2, heads: 2, queries: 4, keys: 4, depth: 3, valueDepth: 3, causal: true, keyPadding: Self.padding(batch: 2, keys: 4))
        expectGradientsMatch([Self.packed(c, seed: 6)], "self") { packedSelfAttention($0[0], heads: c.heads, causal: true, keyPadding: c.keyPadding) }
        let x = AttentionCase(batch: 2, heads: 2, queries: 3, keys: 5, depth: 3, valueDepth: 3, keyPadding: Self.padding(batch: 2, keys: 5))
        expectGradientsMatch([randomTensor([x.batch, x.queries, x.width], seed: 7), randomTensor([x.batch, x.keys, 2 * x.width], seed: 8)], "cross") {
            packedAttention(queries: $0[0], keysAndValues: $0[1], heads: x.heads, keyPadding: x.keyPadding)
        }
    }
}

extension AttentionCase {
    /// Width of the packed rows' queries: H·D.
    var width: Int { heads * depth }

    /// The head-major kernel on [B, N, H·D] queries, keys and values split into copies, merged back.
    func split(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
        scaledDotProductAttention(queries: q.splittingHeads(heads), keys: k.splittingHeads(heads), values: v.splittingHeads(heads),
                                  causal: causal, keyPadding: keyPadding).mergingHeads()
    }
}
