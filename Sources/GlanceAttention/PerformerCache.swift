import GlanceCore

/// Performer's state for causal decoding: for each batch entry and head, the prefix sums
/// S = Σ_j φ(k_j)ᵀ [v_j 1] (features × (headDimensions + 1)) over the positions seen. A new
/// position adds its key's term and reads out φ(q)·S, O(m·d) per position and head, whatever
/// the length.
public final class PerformerCache: AttentionCache {
    public let batch: Int
    public let heads: Int
    public let features: Int
    public let valueDimensions: Int
    /// Positions seen so far.
    public private(set) var length = 0
    /// [batch·heads, features, valueDimensions + 1].
    private var state: [Float]

    public init(batch: Int, heads: Int, features: Int, valueDimensions: Int) {
        precondition(batch >= 1 && heads >= 1 && features >= 1 && valueDimensions >= 1,
                     "a Performer cache needs positive sizes, got batch \(batch), heads \(heads), features \(features), width \(valueDimensions)")
        (self.batch, self.heads, self.features, self.valueDimensions) = (batch, heads, features, valueDimensions)
        state = [Float](repeating: 0, count: batch * heads * features * (valueDimensions + 1))
    }

    /// Causal linear attention of the next n positions, query features [batch, heads, n, m],
    /// key features [batch, heads, n, m] and values [batch, heads, n, d]: position i reads
    /// out_i = num_i / (z_i + ε·Σφq_i) with [num_i z_i] = φq_i·S_i, S_i the sums up to and
    /// including i (ε as ``linearAttention(queryFeatures:keyFeatures:values:causal:epsilon:)``'s
    /// causal one). Appends the positions to the sums; returns [batch, heads, n, d].
    public func advance(queryFeatures qf: Tensor, keyFeatures kf: Tensor, values v: Tensor) -> Tensor {
        let n = qf.rank == 4 ? qf.shape[2] : 0
        let (m, d, width) = (features, valueDimensions, valueDimensions + 1)
        precondition(qf.shape == [batch, heads, n, m] && kf.shape == qf.shape && v.shape == [batch, heads, n, d],
                     "Performer cache of [\(batch), \(heads)] heads, \(m) features and width \(d) cannot take \(qf.shape), \(kf.shape), \(v.shape)")
        let epsilon = LinearAttentionKernel.causalEpsilon
        let result = Tensor(shape: [batch, heads, n, d]) { out in
            qf.withUnsafeBufferPointer { q in
                kf.withUnsafeBufferPointer { k in
                    v.withUnsafeBufferPointer { vb in
                        state.withUnsafeMutableBufferPointer { sb in
                            let (pq, pk, pv, ps, po) = (SendablePointer(q.baseAddress!), SendablePointer(k.baseAddress!),
                                                        SendablePointer(vb.baseAddress!), SendablePointer(sb.baseAddress!),
                                                        SendablePointer(out.baseAddress!))
                            parallelFor(batch * heads) { slices in
                                let row = UnsafeMutablePointer<Float>.allocate(capacity: 2 * width)
                                defer { row.deallocate() }
                                let (augmented, numerator) = (row, row + width)
                                for slice in slices {
                                    let sums = ps.base + slice * m * width
                                    for i in 0..<n {
                                        let index = slice * n + i
                                        let (queryRow, keyRow) = (pq.base + index * m, pk.base + index * m)
                                        augmented.update(from: pv.base + index * d, count: d)
                                        augmented[d] = 1
                                        // S += φkᵀ [v 1]; [num z] = φq · S.
                                        BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: 1, a: keyRow, lda: m,
                                                   b: augmented, ldb: width, beta: 1, c: sums, ldc: width)
                                        BLAS.sgemm(transposeA: false, transposeB: false, m: 1, n: width, k: m, a: queryRow, lda: m,
                                                   b: sums, ldb: width, c: numerator, ldc: width)
                                        let inverse = 1 / (numerator[d] + epsilon * vectorSum(queryRow, m))
                                        for c in 0..<d { po.base[index * d + c] = numerator[c] * inverse }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        length += n
        return result
    }
}

/// Incremental decoding for ``Performer``.
extension Performer {
    /// Whether the cached path computes what the causal forward computes: each key's features
    /// must depend on that key alone, which holds for the ReLU kernel and for the softmax
    /// kernel under the projection-bound stabilizer (the causal default), not under
    /// performer-pytorch's `.reference` one (its shift is a maximum over every key).
    public var decodesIncrementally: Bool { kernel == .relu || stabilizer != .reference }

    /// An empty ``PerformerCache``; throws an ``AttentionCapabilityError`` when
    /// ``decodesIncrementally`` is false.
    public func makeCache(batch: Int) throws -> any AttentionCache {
        try check(.incremental)
        return PerformerCache(batch: batch, heads: heads, features: features, valueDimensions: headDimensions)
    }

    /// The next positions of `input` against the prefix sums of the earlier ones, with the
    /// features the causal forward uses (``FeatureStabilizer/projectionBound`` keys).
    func attendIncrementally(_ input: Tensor, cache: PerformerCache) -> AttentionOutput {
        let q = query(input).splittingHeads(heads)
        let k = key(input).splittingHeads(heads)
        let v = value(input).splittingHeads(heads)
        let queryFeatures = performerFeatures(q, projection: projection, kernel: kernel, role: .query, stabilizer: .projectionBound)
        let keyFeatures = performerFeatures(k, projection: projection, kernel: kernel, role: .key, stabilizer: .projectionBound)
        let attended = cache.advance(queryFeatures: queryFeatures, keyFeatures: keyFeatures, values: v)
        return AttentionOutput(output(attended.mergingHeads()))
    }
}
