import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// Attention on heads packed in the projections' [B, N, H·D] rows against the head-major
/// kernel on split copies, forward and gradients, and against finite differences.
@Suite struct PackedHeadAttentionTests {
    struct PackedCase: CustomStringConvertible, Sendable {
        var batch = 2
        var heads = 2
        var queries: Int
        var keys: Int
        var depth = 3
        var causal = false
        var padded = false

        var description: String { "B\(batch) H\(heads) Nq\(queries) Nk\(keys) D\(depth)\(causal ? " causal" : "")\(padded ? " padded" : "")" }
        var width: Int { heads * depth }
        var keyPadding: [[Bool]]? {
            padded ? randomPadding(batch: batch, keys: keys, seed: UInt64(keys * 17)).map { [true] + $0.dropFirst() } : nil
        }

        /// The head-major kernel on [B, N, H·D] queries, keys and values split into copies, merged back.
        func split(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
            scaledDotProductAttention(queries: q.splittingHeads(heads), keys: k.splittingHeads(heads), values: v.splittingHeads(heads),
                                      causal: causal, keyPadding: keyPadding).mergingHeads()
        }
    }

    static let selfCases: [PackedCase] = [
        PackedCase(queries: 5, keys: 5),
        PackedCase(queries: 6, keys: 6, causal: true, padded: true),
        PackedCase(batch: 1, heads: 3, queries: 300, keys: 300, depth: 4, causal: true),
        PackedCase(batch: 1, heads: 2, queries: 530, keys: 530, depth: 2, padded: true),
    ]

    static let crossCases: [PackedCase] = [
        PackedCase(queries: 4, keys: 7),
        PackedCase(queries: 7, keys: 4, padded: true),
        PackedCase(queries: 3, keys: 8, causal: true, padded: true),
        PackedCase(batch: 1, heads: 2, queries: 260, keys: 700, depth: 4, causal: true, padded: true),
    ]

    /// Queries, keys and values of a self-attention case side by side in one [B, N, 3·H·D] tensor.
    static func packed(_ c: PackedCase, seed: UInt64) -> Tensor { randomTensor([c.batch, c.queries, 3 * c.width], seed: seed) }

    static func sections(_ t: Tensor, count: Int) -> [Tensor] {
        let width = t.shape[2] / count
        return (0..<count).map { t.sliced(alongAxis: 2, ($0 * width)..<(($0 + 1) * width)) }
    }

    @Test("packed self-attention equals the head-major kernel, forward and gradient", arguments: selfCases)
    func selfAttention(_ c: PackedCase) {
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
    func crossAttention(_ c: PackedCase) {
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
        let c = PackedCase(queries: 4, keys: 4, causal: true, padded: true)
        expectGradientsMatch([Self.packed(c, seed: 6)], "self") { packedSelfAttention($0[0], heads: c.heads, causal: true, keyPadding: c.keyPadding) }
        let x = PackedCase(queries: 3, keys: 5, padded: true)
        expectGradientsMatch([randomTensor([x.batch, x.queries, x.width], seed: 7), randomTensor([x.batch, x.keys, 2 * x.width], seed: 8)], "cross") {
            packedAttention(queries: $0[0], keysAndValues: $0[1], heads: x.heads, keyPadding: x.keyPadding)
        }
    }
}
