import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// The exact kernel with a memory (more keys than queries under causal masking), a relative
/// score term and a post-softmax mask, against the same attention written plainly with
/// primitive ops (the term and the mask gathered into dense Nq × Nk matrices), forward and
/// gradients, and against finite differences.
@Suite struct ScaledDotProductAttentionTermTests {
    /// One problem: the queries are the last `queries` of `keys` positions.
    struct TermCase: CustomStringConvertible, Sendable {
        var batch = 2
        var heads = 2
        var queries: Int
        var keys: Int
        var depth = 3
        var valueDepth = 2
        var causal = false
        var padded = false
        /// The relative score term's batch (1: shared by the batch), nil for none.
        var termBatch: Int? = nil
        var mask = false
        /// Columns beyond the distances the call needs, on each side: the term may cover more.
        var spare = 0

        var description: String {
            "B\(batch) H\(heads) Nq\(queries) Nk\(keys)\(causal ? " causal" : "")\(padded ? " padded" : "")"
                + "\(termBatch.map { " term[\($0)]" } ?? "")\(mask ? " mask" : "")\(spare > 0 ? " spare\(spare)" : "")"
        }

        var memory: Int { keys - queries }
        /// Largest distance covered and the number of columns: the needed range plus `spare`.
        var largestDistance: Int { keys - 1 + spare }
        var columns: Int { keys + (causal ? 0 : queries - 1) + 2 * spare }

        /// Random padding that keeps key 0 real, so that no query sees only padding.
        var keyPadding: [[Bool]]? {
            guard padded else { return nil }
            return randomPadding(batch: batch, keys: keys, seed: UInt64(keys * 31)).map { [true] + $0.dropFirst() }
        }

        /// q, k, v, then the term's scores and the mask's weights when present.
        func inputs(seed: UInt64) -> [Tensor] {
            var random = TestRandom(seed: seed)
            var tensors = [random.normal([batch, heads, queries, depth]), random.normal([batch, heads, keys, depth]),
                           random.normal([batch, heads, keys, valueDepth])]
            if let termBatch { tensors.append(random.normal([termBatch, heads, queries, columns])) }
            if mask { tensors.append(random.uniform([heads, columns], in: 0.2...1)) }
            return tensors
        }

        /// The kernel on `inputs`.
        func kernel(_ t: [Tensor]) -> Tensor {
            let term = termBatch.map { _ in RelativeScoreTerm(scores: t[3], largestDistance: largestDistance) }
            let weights = mask ? PostSoftmaxMask(weights: t[t.count - 1], largestDistance: largestDistance) : nil
            return scaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], causal: causal, keyPadding: keyPadding,
                                             relativeScores: term, postSoftmaxMask: weights)
        }

        /// The column of query i and key j (clamped where the key is hidden and the column unused).
        func column(_ i: Int, _ j: Int) -> Int { Swift.min(columns - 1, Swift.max(0, largestDistance - (memory + i - j))) }

        /// The same attention from primitive ops: scores, + gathered term, + −∞ mask, softmax,
        /// × gathered weights and renormalised, · V.
        func dense(_ t: [Tensor]) -> Tensor {
            var scores = t[0].matmul(t[1], transposeOther: true) * (1 / Float(depth).squareRoot())
            let pairs = (0..<queries).flatMap { i in (0..<keys).map { j in column(i, j) } }
            if let termBatch {
                let indices = IndexTensor(Array([[Int]](repeating: pairs, count: termBatch * heads).joined()),
                                          shape: [termBatch, heads, queries, keys])
                scores = scores + t[3].gathered(alongAxis: 3, indices: indices)
            }
            var hidden = [Float](repeating: 0, count: batch * queries * keys)
            for b in 0..<batch {
                for i in 0..<queries {
                    for j in 0..<keys where (causal && j > memory + i) || keyPadding.map({ !$0[b][j] }) == true {
                        hidden[(b * queries + i) * keys + j] = -.infinity
                    }
                }
            }
            var probabilities = (scores + Tensor(hidden, shape: [batch, 1, queries, keys])).softmax(alongAxis: -1)
            if mask {
                let indices = IndexTensor(Array([[Int]](repeating: pairs, count: heads).joined()), shape: [heads, queries * keys])
                let weights = t[t.count - 1].gathered(alongAxis: 1, indices: indices).reshaped(to: [1, heads, queries, keys])
                let weighted = probabilities * weights
                probabilities = weighted / (weighted.sum(alongAxis: -1, keepingDimensions: true) + PostSoftmaxMask.epsilon)
            }
            return probabilities.matmul(t[2])
        }
    }

    static let cases: [TermCase] = [
        TermCase(queries: 3, keys: 7, causal: true),
        TermCase(queries: 3, keys: 7, causal: true, padded: true),
        TermCase(queries: 4, keys: 6),
        TermCase(queries: 5, keys: 5, causal: true, termBatch: 1),
        TermCase(queries: 5, keys: 5, termBatch: 2),
        TermCase(queries: 4, keys: 9, causal: true, padded: true, termBatch: 2),
        TermCase(queries: 4, keys: 7, padded: true, termBatch: 1, spare: 2),
        TermCase(queries: 5, keys: 5, causal: true, mask: true),
        TermCase(queries: 3, keys: 8, causal: true, mask: true, spare: 1),
        TermCase(queries: 6, keys: 6, padded: true, mask: true),
        TermCase(queries: 4, keys: 9, causal: true, padded: true, termBatch: 1, mask: true),
        TermCase(queries: 5, keys: 5, termBatch: 2, mask: true),
        TermCase(queries: 3, keys: 6, padded: true, termBatch: 2, mask: true, spare: 3),
        // Several 64-row query blocks and two 512-key blocks of the streaming path.
        TermCase(batch: 1, heads: 1, queries: 150, keys: 700, depth: 2, valueDepth: 2, causal: true, termBatch: 1, mask: true),
        TermCase(batch: 1, heads: 2, queries: 260, keys: 600, depth: 2, valueDepth: 3, causal: true, padded: true),
        TermCase(batch: 1, heads: 1, queries: 300, keys: 520, depth: 2, valueDepth: 2, padded: true, termBatch: 1, mask: true),
    ]

    @Test("the kernel equals the dense composition, with gradients on and off", arguments: cases)
    func forward(_ c: TermCase) {
        let inputs = c.inputs(seed: 1)
        let expected = withoutGradients { c.dense(inputs) }
        let streamed = withoutGradients { c.kernel(inputs) }
        let recorded = withGradients { c.kernel(inputs.map { $0.requiringGradient() }) }
        #expect(recorded.requiresGradient)
        #expect(relativeError(streamed, expected) <= 1e-5, "\(c) streaming: max difference \(maxAbsoluteDifference(streamed, expected))")
        #expect(relativeError(recorded.detached(), expected) <= 1e-5, "\(c) recording: max difference \(maxAbsoluteDifference(recorded, expected))")
    }

    @Test("gradients of q, k, v, the term and the mask equal the dense composition's", arguments: cases)
    func gradientsMatchDense(_ c: TermCase) {
        let inputs = c.inputs(seed: 2)
        let seed = randomTensor([c.batch, c.heads, c.queries, c.valueDepth], seed: 3)
        let actual = valueAndGradient(at: inputs) { (c.kernel($0) * seed).sum() }.gradients
        let expected = valueAndGradient(at: inputs) { (c.dense($0) * seed).sum() }.gradients
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            #expect(relativeError(a, e) <= 1e-5, "\(c) input \(index): relative error \(relativeError(a, e))")
        }
    }

    @Test("gradients match finite differences", arguments: cases.filter { $0.queries * $0.keys <= 50 })
    func gradientCheck(_ c: TermCase) {
        expectGradientsMatch(c.inputs(seed: 4), labels: "\(c)") { c.kernel($0) }
    }

    @Test("with more keys than queries, causal attention equals the last rows of attention over all keys")
    func memoryIsTheLeadingKeys() {
        let (queries, keys) = (4, 11)
        let all = TermCase(queries: keys, keys: keys, causal: true, padded: true, termBatch: 1, mask: true)
        let last = TermCase(queries: queries, keys: keys, causal: true, padded: true, termBatch: 1, mask: true)
        var inputs = all.inputs(seed: 5)
        let full = withoutGradients { all.kernel(inputs) }.sliced(alongAxis: 2, (keys - queries)..<keys)
        inputs[0] = inputs[0].sliced(alongAxis: 2, (keys - queries)..<keys)
        // Query i of the short call sits at position M + i: its term row is row M + i of the long one's.
        inputs[3] = inputs[3].sliced(alongAxis: 2, (keys - queries)..<keys)
        let restricted = withoutGradients { last.kernel(inputs) }
        #expect(relativeError(restricted, full) <= 1e-6, "max difference \(maxAbsoluteDifference(restricted, full))")
    }

    @Test("a mask of ones changes nothing but the ε of the renormalisation")
    func unitMask() {
        let c = TermCase(queries: 5, keys: 8, causal: true, padded: true)
        let inputs = c.inputs(seed: 6)
        let plain = withoutGradients { c.kernel(inputs) }
        let ones = PostSoftmaxMask(weights: Tensor(shape: [c.heads, c.keys], repeating: 1), largestDistance: c.keys - 1)
        let masked = withoutGradients {
            scaledDotProductAttention(queries: inputs[0], keys: inputs[1], values: inputs[2], causal: true, keyPadding: c.keyPadding,
                                      postSoftmaxMask: ones)
        }
        #expect(relativeError(masked, plain) <= 1e-6)
    }
}
