import Foundation
import GlanceAttention
import GlanceCore
import GlanceTestSupport
import Testing

/// The fused attention kernel against a naive Double reference, its hand-written backward
/// against finite differences and a Double reference backward, in every masking mode and
/// at lengths around the kernel's 256-row blocks.
@Suite struct ScaledDotProductAttentionTests {
    static let forwardCases: [AttentionCase] = [
        AttentionCase(batch: 2, heads: 3, queries: 5, keys: 5),
        AttentionCase(batch: 2, heads: 3, queries: 5, keys: 5, causal: true),
        AttentionCase(batch: 3, heads: 2, queries: 6, keys: 6, keyPadding: randomPadding(batch: 3, keys: 6, seed: 7)),
        AttentionCase(batch: 3, heads: 2, queries: 6, keys: 6, causal: true, keyPadding: randomPadding(batch: 3, keys: 6, seed: 8)),
        AttentionCase(batch: 2, heads: 2, queries: 4, keys: 9, depth: 3, valueDepth: 5),
        AttentionCase(batch: 2, heads: 2, queries: 9, keys: 3, depth: 5, valueDepth: 2, keyPadding: randomPadding(batch: 2, keys: 3, seed: 9)),
        // Lengths that are not multiples of the 256-row block.
        AttentionCase(queries: 1, keys: 1),
        AttentionCase(queries: 1, keys: 1, causal: true),
        AttentionCase(batch: 1, heads: 2, queries: 7, keys: 7, causal: true),
        AttentionCase(queries: 300, keys: 300, depth: 8, valueDepth: 8),
        AttentionCase(queries: 300, keys: 300, depth: 8, valueDepth: 8, causal: true),
        AttentionCase(batch: 2, queries: 513, keys: 513, depth: 4, valueDepth: 4, causal: true,
                      keyPadding: randomPadding(batch: 2, keys: 513, seed: 10)),
        AttentionCase(queries: 513, keys: 7, depth: 4, valueDepth: 3),
        AttentionCase(queries: 7, keys: 300, depth: 4, valueDepth: 3, keyPadding: randomPadding(batch: 1, keys: 300, seed: 11)),
        // More keys than one 512-key block of the inference path; in batch entry 0 the whole
        // first key block is padding, so each row's running maximum starts at −∞.
        AttentionCase(batch: 2, queries: 3, keys: 1100, depth: 4, valueDepth: 3,
                      keyPadding: [[Bool](repeating: false, count: 600) + [Bool](repeating: true, count: 500),
                                   randomPadding(batch: 1, keys: 1100, seed: 16)[0]]),
        AttentionCase(queries: 1030, keys: 1030, depth: 2, valueDepth: 2, causal: true),
    ]

    @Test("forward equals the naive reference", arguments: forwardCases)
    func forwardMatchesReference(_ c: AttentionCase) {
        let (q, k, v) = c.inputs(seed: 1)
        let output = withoutGradients {
            scaledDotProductAttention(queries: q, keys: k, values: v, causal: c.causal, keyPadding: c.keyPadding)
        }
        #expect(output.shape == [c.batch, c.heads, c.queries, c.valueDepth])
        let reference = referenceAttention(c, q: q, k: k, v: v).output
        let error = relativeError(output.scalars, reference)
        #expect(error < 1e-5, "\(c): relative error \(error)")
        #expect(maxDifference(output.scalars, reference) < 1e-5, "\(c)")
    }

    @Test("an explicit scale replaces 1/√d")
    func explicitScale() {
        let c = AttentionCase(batch: 1, heads: 2, queries: 6, keys: 6, depth: 4, valueDepth: 4, causal: true)
        let (q, k, v) = c.inputs(seed: 2)
        let output = scaledDotProductAttention(queries: q, keys: k, values: v, causal: true, scale: 0.3)
        let reference = referenceAttention(c, q: q, k: k, v: v, scale: 0.3).output
        #expect(relativeError(output.scalars, reference) < 1e-5)
    }

    @Test("a fully padded batch entry gives zeros, and its gradients are zero")
    func fullyPaddedRow() {
        let c = AttentionCase(batch: 3, heads: 2, queries: 5, keys: 6,
                              keyPadding: randomPadding(batch: 3, keys: 6, seed: 3, emptyRows: [1]))
        let (q, k, v) = c.inputs(seed: 4)
        let output = scaledDotProductAttention(queries: q, keys: k, values: v, keyPadding: c.keyPadding)
        #expect(output.scalars.allSatisfy { $0.isFinite })
        let perEntry = c.heads * c.queries * c.valueDepth
        #expect(output.scalars[perEntry..<(2 * perEntry)].allSatisfy { $0 == 0 })
        #expect(relativeError(output.scalars, referenceAttention(c, q: q, k: k, v: v).output) < 1e-5)

        let (_, grads) = valueAndGradient(at: [q, k, v]) { t in
            (scaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], keyPadding: c.keyPadding) * randomProjection(shape: output.shape)).sum()
        }
        for (gradient, rows) in zip(grads, [c.queries * c.depth, c.keys * c.depth, c.keys * c.valueDepth]) {
            let block = c.heads * rows
            #expect(gradient.scalars.allSatisfy { $0.isFinite })
            #expect(gradient.scalars[block..<(2 * block)].allSatisfy { $0 == 0 })
        }
    }

    @Test("a causal query whose only visible key is padded gives zeros")
    func causalAndPaddedFirstKey() {
        var padding = [[Bool]](repeating: [Bool](repeating: true, count: 5), count: 1)
        padding[0][0] = false
        let c = AttentionCase(batch: 1, heads: 1, queries: 5, keys: 5, causal: true, keyPadding: padding)
        let (q, k, v) = c.inputs(seed: 5)
        let output = scaledDotProductAttention(queries: q, keys: k, values: v, causal: true, keyPadding: padding)
        #expect(output.scalars.prefix(c.valueDepth).allSatisfy { $0 == 0 })
        #expect(relativeError(output.scalars, referenceAttention(c, q: q, k: k, v: v).output) < 1e-5)
    }

    static let gradientCases: [AttentionCase] = [
        AttentionCase(batch: 2, heads: 2, queries: 5, keys: 5, depth: 3, valueDepth: 3),
        AttentionCase(batch: 2, heads: 2, queries: 5, keys: 5, depth: 3, valueDepth: 3, causal: true),
        AttentionCase(batch: 3, heads: 1, queries: 4, keys: 4, depth: 3, valueDepth: 2,
                      keyPadding: randomPadding(batch: 3, keys: 4, seed: 12, emptyRows: [2])),
        AttentionCase(batch: 2, heads: 2, queries: 5, keys: 5, depth: 2, valueDepth: 3, causal: true,
                      keyPadding: randomPadding(batch: 2, keys: 5, seed: 13)),
        AttentionCase(batch: 1, heads: 2, queries: 3, keys: 6, depth: 3, valueDepth: 2),
        AttentionCase(batch: 1, heads: 2, queries: 6, keys: 2, depth: 2, valueDepth: 4, keyPadding: [[true, false]]),
        AttentionCase(queries: 1, keys: 1, depth: 2, valueDepth: 2, causal: true),
        AttentionCase(queries: 7, keys: 7, depth: 2, valueDepth: 2, causal: true),
        // Crosses one block boundary (256 rows): dK and dV accumulate over two blocks.
        AttentionCase(queries: 258, keys: 258, depth: 1, valueDepth: 1, causal: true),
    ]

    @Test("q, k and v gradients match finite differences", arguments: gradientCases)
    func gradientCheck(_ c: AttentionCase) {
        let (q, k, v) = c.inputs(seed: 20)
        expectGradientsMatch([q, k, v], labels: "\(c)") { t in
            scaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], causal: c.causal, keyPadding: c.keyPadding)
        }
    }

    static let backwardCases: [AttentionCase] = [
        AttentionCase(batch: 2, heads: 2, queries: 7, keys: 7, causal: true),
        AttentionCase(queries: 300, keys: 300, depth: 8, valueDepth: 8),
        AttentionCase(queries: 300, keys: 300, depth: 8, valueDepth: 8, causal: true),
        AttentionCase(batch: 2, queries: 513, keys: 513, depth: 4, valueDepth: 4, causal: true,
                      keyPadding: randomPadding(batch: 2, keys: 513, seed: 14, emptyRows: [1])),
        AttentionCase(queries: 513, keys: 7, depth: 4, valueDepth: 3, keyPadding: randomPadding(batch: 1, keys: 7, seed: 15)),
        AttentionCase(queries: 7, keys: 300, depth: 4, valueDepth: 3),
    ]

    @Test("q, k and v gradients match a Double reference backward at long lengths", arguments: backwardCases)
    func backwardMatchesReference(_ c: AttentionCase) {
        let (q, k, v) = c.inputs(seed: 30)
        let seed = randomTensor([c.batch, c.heads, c.queries, c.valueDepth], seed: 31)
        let (_, grads) = valueAndGradient(at: [q, k, v]) { t in
            (scaledDotProductAttention(queries: t[0], keys: t[1], values: t[2], causal: c.causal, keyPadding: c.keyPadding) * seed).sum()
        }
        let reference = referenceAttentionGradients(c, q: q, k: k, v: v, outputGradient: seed)
        for (name, gradient, expected) in [("dq", grads[0], reference.dq), ("dk", grads[1], reference.dk), ("dv", grads[2], reference.dv)] {
            let error = relativeError(gradient.scalars, expected)
            #expect(error < 1e-5, "\(c) \(name): relative error \(error)")
        }
    }

    @Test("the result with gradients on equals the result with gradients off", arguments: forwardCases)
    func recordingDoesNotChangeTheResult(_ c: AttentionCase) {
        let (q, k, v) = c.inputs(seed: 40)
        let plain = withoutGradients {
            scaledDotProductAttention(queries: q, keys: k, values: v, causal: c.causal, keyPadding: c.keyPadding)
        }
        let (qg, kg, vg) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
        let recorded = withGradients {
            scaledDotProductAttention(queries: qg, keys: kg, values: vg, causal: c.causal, keyPadding: c.keyPadding)
        }
        #expect(recorded.requiresGradient)
        // The two paths round differently (inference uses an online softmax), never by more than Float32 noise.
        #expect(isClose(recorded, plain, relativeTolerance: 1e-5, absoluteTolerance: 1e-6),
                "\(c): max difference \(maxAbsoluteDifference(recorded, plain))")
    }
}
