import Foundation
import GlanceCore
import GlanceNN

/// Linear attention out_i = Σ_j (φq_i·φk_j) v_j / (Σ_j φq_i·φk_j + ε·Σ_l φq_il) over the keys j
/// each query sees (all of them, or j ≤ i when `causal`), for features [B, H, n, m] and values
/// [B, H, n, d], with a fused forward and a hand-written backward.
///
/// Bidirectional: S = φkᵀ[V 1] (m × (d+1)) and φq·S, each one BLAS product per head.
/// Causal: positions are walked in chunks of 64 with a running S; inside a chunk the scores
/// φq·φkᵀ are masked to the lower triangle. The backward walks forward once more for the
/// query gradients and backward once with the running sum R = Σ_{i later} φq_i g_iᵀ for the
/// key and value gradients. Working memory per head is O(n·d + m·d + 64²): the n × m × d
/// prefix tensor is never formed. ε is performer-pytorch's (0 bidirectional, 1e-6 causal).
public func linearAttention(queryFeatures qf: Tensor, keyFeatures kf: Tensor, values v: Tensor,
                            causal: Bool, epsilon: Float? = nil) -> Tensor {
    precondition(qf.rank == 4 && kf.rank == 4 && v.rank == 4, "linearAttention expects [B, H, n, ·] tensors")
    let (batch, heads, n, m) = (qf.shape[0], qf.shape[1], qf.shape[2], qf.shape[3])
    let d = v.shape[3]
    precondition(kf.shape == qf.shape && v.shape == [batch, heads, n, d],
                 "linearAttention shapes disagree: \(qf.shape), \(kf.shape), \(v.shape)")
    let kernel = LinearAttentionKernel(slices: batch * heads, n: n, m: m, d: d, causal: causal,
                                       epsilon: epsilon ?? (causal ? 1e-6 : 0))
    let recording = GradientMode.isRecording && (qf.requiresGradient || kf.requiresGradient || v.requiresGradient)
    let denominators = TensorStorage(count: batch * heads * n)
    let output = Tensor(shape: [batch, heads, n, d]) { out in
        qf.withUnsafeBufferPointer { q in
            kf.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { vb in
                    kernel.forward(q: q.baseAddress!, k: k.baseAddress!, v: vb.baseAddress!, out: out.baseAddress!,
                                   denominators: denominators.pointer)
                }
            }
        }
    }
    guard recording else { return output }
    let (qd, kd, vd, od) = (qf.detached(), kf.detached(), v.detached(), output)
    return output.recorded(from: [qf, kf, v]) { g in
        var dq = Tensor.zeros(qf.shape), dk = Tensor.zeros(kf.shape), dv = Tensor.zeros(v.shape)
        qd.withUnsafeBufferPointer { q in
            kd.withUnsafeBufferPointer { k in
                vd.withUnsafeBufferPointer { vb in
                    od.withUnsafeBufferPointer { o in
                        g.withUnsafeBufferPointer { gb in
                            dq.withUnsafeMutableBufferPointer { dqb in
                                dk.withUnsafeMutableBufferPointer { dkb in
                                    dv.withUnsafeMutableBufferPointer { dvb in
                                        kernel.backward(q: q.baseAddress!, k: k.baseAddress!, v: vb.baseAddress!, out: o.baseAddress!,
                                                        denominators: denominators.pointer, g: gb.baseAddress!,
                                                        dq: dqb.baseAddress!, dk: dkb.baseAddress!, dv: dvb.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dq, dk, dv]
    }
}

/// Loops of ``linearAttention(queryFeatures:keyFeatures:values:causal:epsilon:)``.
struct LinearAttentionKernel: Sendable {
    let slices, n, m, d: Int
    let causal: Bool
    let epsilon: Float
    let chunk = 64
    var width: Int { d + 1 }

    /// [V 1] for one head: n × (d+1).
    func augmented(_ v: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            (buffer + i * width).update(from: v + i * d, count: d)
            buffer[i * width + d] = 1
        }
    }

    /// Splits numerators [n × (d+1)] (last column: denominator) into outputs.
    func normalize(_ numerators: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, rows: Range<Int>,
                   out: UnsafeMutablePointer<Float>, denominators: UnsafeMutablePointer<Float>) {
        for i in rows {
            let row = numerators + (i - rows.lowerBound) * width
            var denominator = row[d]
            if epsilon != 0 { denominator += epsilon * vectorSum(q + i * m, m) }
            denominators[i] = denominator
            let inverse = 1 / denominator
            for c in 0..<d { out[i * d + c] = row[c] * inverse }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 out: UnsafeMutablePointer<Float>, denominators: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, po, pz) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(out),
                                    SendablePointer(denominators))
        let (n, m, d, width, chunk) = (self.n, self.m, self.d, self.width, self.chunk)
        parallelFor(slices) { range in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let state = UnsafeMutablePointer<Float>.allocate(capacity: m * width)
            let numerators = UnsafeMutablePointer<Float>.allocate(capacity: (causal ? chunk : n) * width)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * chunk)
            defer { values.deallocate(); state.deallocate(); numerators.deallocate(); scores.deallocate() }
            for slice in range {
                let qs = pq.base + slice * n * m, ks = pk.base + slice * n * m
                let os = po.base + slice * n * d, zs = pz.base + slice * n
                augmented(pv.base + slice * n * d, into: values)
                if !causal {
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: n, a: ks, lda: m,
                               b: values, ldb: width, c: state, ldc: width)
                    BLAS.sgemm(transposeA: false, transposeB: false, m: n, n: width, k: m, a: qs, lda: m,
                               b: state, ldb: width, c: numerators, ldc: width)
                    normalize(numerators, q: qs, rows: 0..<n, out: os, denominators: zs)
                    continue
                }
                state.update(repeating: 0, count: m * width)
                for start in stride(from: 0, to: n, by: chunk) {
                    let rows = Swift.min(chunk, n - start)
                    let qc = qs + start * m, kc = ks + start * m, vc = values + start * width
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: rows, k: m, a: qc, lda: m,
                               b: kc, ldb: m, c: scores, ldc: chunk)
                    maskUpper(scores, rows)
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: rows, a: scores, lda: chunk,
                               b: vc, ldb: width, c: numerators, ldc: width)
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: qc, lda: m,
                               b: state, ldb: width, beta: 1, c: numerators, ldc: width)
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: kc, lda: m,
                               b: vc, ldb: width, beta: 1, c: state, ldc: width)
                    normalize(numerators, q: qs, rows: start..<(start + rows), out: os, denominators: zs)
                }
            }
        }
    }

    /// Zeroes entries above the diagonal of a rows × rows block (leading dimension `chunk`).
    func maskUpper(_ scores: UnsafeMutablePointer<Float>, _ rows: Int) {
        for r in 0..<rows where r + 1 < rows {
            (scores + r * chunk + r + 1).update(repeating: 0, count: rows - r - 1)
        }
    }

    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafePointer<Float>,
                  denominators: UnsafePointer<Float>, g: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, po, pz, pg) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(out),
                                        SendablePointer(denominators), SendablePointer(g))
        let (pdq, pdk, pdv) = (SendablePointer(dq), SendablePointer(dk), SendablePointer(dv))
        let (n, m, d, width, chunk) = (self.n, self.m, self.d, self.width, self.chunk)
        parallelFor(slices) { range in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let grads = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let state = UnsafeMutablePointer<Float>.allocate(capacity: m * width)
            let dvAug = UnsafeMutablePointer<Float>.allocate(capacity: (causal ? chunk : n) * width)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * chunk)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: chunk * chunk)
            defer {
                values.deallocate(); grads.deallocate(); state.deallocate(); dvAug.deallocate()
                scores.deallocate(); products.deallocate()
            }
            for slice in range {
                let qs = pq.base + slice * n * m, ks = pk.base + slice * n * m
                let dqs = pdq.base + slice * n * m, dks = pdk.base + slice * n * m, dvs = pdv.base + slice * n * d
                augmented(pv.base + slice * n * d, into: values)
                // G' = [g/z, −(g·out)/z]: the gradient of the numerators [num, z].
                for i in 0..<n {
                    let index = slice * n + i
                    let inverse = 1 / pz.base[index]
                    let gi = pg.base + index * d, oi = po.base + index * d, row = grads + i * width
                    for c in 0..<d { row[c] = gi[c] * inverse }
                    row[d] = -vectorDot(gi, oi, d) * inverse
                }
                if !causal {
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: n, a: ks, lda: m,
                               b: values, ldb: width, c: state, ldc: width)
                    BLAS.sgemm(transposeA: false, transposeB: true, m: n, n: m, k: width, a: grads, lda: width,
                               b: state, ldb: width, c: dqs, ldc: m)
                    // dS' = φqᵀ G'
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: n, a: qs, lda: m,
                               b: grads, ldb: width, c: state, ldc: width)
                    BLAS.sgemm(transposeA: false, transposeB: true, m: n, n: m, k: width, a: values, lda: width,
                               b: state, ldb: width, c: dks, ldc: m)
                    BLAS.sgemm(transposeA: false, transposeB: false, m: n, n: width, k: m, a: ks, lda: m,
                               b: state, ldb: width, c: dvAug, ldc: width)
                    for i in 0..<n { (dvs + i * d).update(from: dvAug + i * width, count: d) }
                } else {
                    // Query gradients, walking forward with S' = Σ_{j before} φk_j [v_j 1]ᵀ.
                    state.update(repeating: 0, count: m * width)
                    for start in stride(from: 0, to: n, by: chunk) {
                        let rows = Swift.min(chunk, n - start)
                        let kc = ks + start * m, vc = values + start * width, gc = grads + start * width
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: rows, k: width, a: gc, lda: width,
                                   b: vc, ldb: width, c: products, ldc: chunk)
                        maskUpper(products, rows)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: m, k: rows, a: products, lda: chunk,
                                   b: kc, ldb: m, c: dqs + start * m, ldc: m)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: gc, lda: width,
                                   b: state, ldb: width, beta: 1, c: dqs + start * m, ldc: m)
                        BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: kc, lda: m,
                                   b: vc, ldb: width, beta: 1, c: state, ldc: width)
                    }
                    // Key and value gradients, walking backward with R' = Σ_{i after} φq_i g'_iᵀ.
                    state.update(repeating: 0, count: m * width)
                    let lastStart = ((n - 1) / chunk) * chunk
                    for start in stride(from: lastStart, through: 0, by: -chunk) {
                        let rows = Swift.min(chunk, n - start)
                        let qc = qs + start * m, kc = ks + start * m, vc = values + start * width, gc = grads + start * width
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: rows, k: width, a: gc, lda: width,
                                   b: vc, ldb: width, c: products, ldc: chunk)
                        maskUpper(products, rows)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: rows, k: m, a: qc, lda: m,
                                   b: kc, ldb: m, c: scores, ldc: chunk)
                        maskUpper(scores, rows)
                        // dφk_c = Bᵀ φq_c + V'_c R'ᵀ
                        BLAS.sgemm(transposeA: true, transposeB: false, m: rows, n: m, k: rows, a: products, lda: chunk,
                                   b: qc, ldb: m, c: dks + start * m, ldc: m)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: vc, lda: width,
                                   b: state, ldb: width, beta: 1, c: dks + start * m, ldc: m)
                        // dV'_c = Aᵀ G'_c + φk_c R'
                        BLAS.sgemm(transposeA: true, transposeB: false, m: rows, n: width, k: rows, a: scores, lda: chunk,
                                   b: gc, ldb: width, c: dvAug, ldc: width)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: kc, lda: m,
                                   b: state, ldb: width, beta: 1, c: dvAug, ldc: width)
                        for r in 0..<rows { (dvs + (start + r) * d).update(from: dvAug + r * width, count: d) }
                        BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: qc, lda: m,
                                   b: gc, ldb: width, beta: 1, c: state, ldc: width)
                    }
                }
                // The ε·Σφq term of each denominator.
                if epsilon != 0 {
                    for i in 0..<n {
                        let extra = epsilon * grads[i * width + d]
                        let row = dqs + i * m
                        for l in 0..<m { row[l] += extra }
                    }
                }
            }
        }
    }
}

/// Modules whose random features are redrawn during training; the trainer calls
/// ``redrawFeatures(step:)`` on every module that conforms before each optimizer step.
public protocol FeatureRedrawing: AnyObject {
    /// Makes the features those of training step `step` (0-based count of finished steps).
    /// Deterministic: the same step always gives the same features.
    func redrawFeatures(step: Int)
}

/// Performer attention (Choromanski et al. 2020, FAVOR+): softmax attention approximated by
/// m positive orthogonal random features, linear in the sequence length, bidirectional or
/// causal (prefix sums).
///
/// The projection matrix is shared by all heads, as in performer-pytorch. It is not a
/// parameter: it is drawn from `featureSeed` and the redraw index ⌊step / redrawInterval⌋
/// (a frozen parameter, `featureDraw`, saved with checkpoints), so a resumed run or a loaded
/// model recreates the features of its step.
public final class Performer: Module, AttentionMechanism, FeatureRedrawing {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int
    /// Number of random features m.
    public let features: Int
    public let kernel: PerformerKernel
    public let orthogonal: Bool
    /// Redraw the features every this many training steps (nil: never).
    public let redrawInterval: Int?
    /// Stabilizer of the softmax features; nil (the default): performer-pytorch's `.reference`
    /// for bidirectional attention and the causal-safe `.projectionBound` under causal masks.
    public var stabilizer: FeatureStabilizer? = nil
    /// Seed of the features; draw i uses a generator seeded from it and i.
    public let featureSeed: UInt64
    /// Index of the current draw (⌊step / redrawInterval⌋), kept as a frozen parameter so that
    /// checkpoints carry it and a loaded model uses the features it was trained with.
    public let featureDraw: Parameter
    public var drawIndex: Int { Int(featureDraw.value.item()) }
    private var _projectionDraw = 0
    /// The m × d projection matrix (d = head dimensions).
    public var projection: Tensor { refreshProjection(); return _projection }
    private var _projection: Tensor

    public init(modelDimensions: Int, heads: Int, features: Int, kernel: PerformerKernel = .softmax,
                orthogonal: Bool = true, redrawInterval: Int? = nil, standardDeviation: Float? = nil,
                outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        guard features >= 1 else { throw AttentionConfigurationError(field: "features", reason: "must be at least 1, got \(features)") }
        if let redrawInterval, redrawInterval < 1 {
            throw AttentionConfigurationError(field: "redraw_interval", reason: "must be at least 1 step, got \(redrawInterval)")
        }
        (query, key, value, output) = try multiHeadProjections(
            modelDimensions: modelDimensions, heads: heads, standardDeviation: standardDeviation,
            outputStandardDeviation: outputStandardDeviation, generator: &generator)
        self.heads = heads
        self.features = features
        self.kernel = kernel
        self.orthogonal = orthogonal
        self.redrawInterval = redrawInterval
        featureSeed = generator.next()
        featureDraw = Parameter(Tensor([0]), trainable: false)
        _projection = Performer.draw(seed: featureSeed, index: 0, features: features,
                                     dimensions: modelDimensions / heads, orthogonal: orthogonal)
        super.init()
    }

    static func draw(seed: UInt64, index: Int, features: Int, dimensions: Int, orthogonal: Bool) -> Tensor {
        var generator = RandomGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return performerProjection(features: features, dimensions: dimensions, orthogonal: orthogonal, generator: &generator)
    }

    public var modelDimensions: Int { query.inputCount }
    public var headDimensions: Int { modelDimensions / heads }

    /// Replaces the projection (e.g. by a reference implementation's, for parity tests).
    public func setProjection(_ matrix: Tensor) {
        precondition(matrix.shape == [features, headDimensions], "projection must be \([features, headDimensions]), got \(matrix.shape)")
        _projection = matrix
    }

    public func redrawFeatures(step: Int) {
        guard let redrawInterval else { return }
        let index = step / redrawInterval
        if index != drawIndex { featureDraw.value = Tensor([Float(index)]) }
        refreshProjection()
    }

    /// Redraws the projection when the draw index changed (a redraw, or a loaded checkpoint).
    private func refreshProjection() {
        let index = drawIndex
        guard index != _projectionDraw else { return }
        _projectionDraw = index
        _projection = Performer.draw(seed: featureSeed, index: index, features: features,
                                     dimensions: headDimensions, orthogonal: orthogonal)
    }

    /// Attention of per-head queries, keys and values [B, H, n, d].
    public func attend(queries q: Tensor, keys k: Tensor, values v: Tensor, mask: AttentionMask) -> Tensor {
        refreshProjection()
        let stabilizer = self.stabilizer ?? (mask.causal ? .projectionBound : .reference)
        let qf = performerFeatures(q, projection: _projection, kernel: kernel, role: .query, stabilizer: stabilizer)
        let kf = performerFeatures(k, projection: _projection, kernel: kernel, role: .key, stabilizer: stabilizer,
                                   keyPadding: mask.keyPadding)
        return linearAttention(queryFeatures: qf, keyFeatures: kf, values: v, causal: mask.causal)
    }

    public func callAsFunction(_ input: Tensor, mask: AttentionMask) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "Performer expects [batch, length, \(modelDimensions)], got \(input.shape)")
        let q = query(input).splittingHeads(heads)
        let k = key(input).splittingHeads(heads)
        let v = value(input).splittingHeads(heads)
        return output(attend(queries: q, keys: k, values: v, mask: mask).mergingHeads())
    }
}

/// Fidelity of Performer attention: ‖performer − exact‖ / ‖exact‖ (Frobenius norms over all
/// heads) for per-head q, k, v [B, H, n, d], with the given projection, against exact softmax
/// attention softmax(q·kᵀ/√d)·v on the same inputs.
public func performerRelativeError(queries q: Tensor, keys k: Tensor, values v: Tensor, projection: Tensor,
                                   kernel: PerformerKernel = .softmax, causal: Bool = false,
                                   stabilizer: FeatureStabilizer? = nil) -> Double {
    let stabilizer = stabilizer ?? (causal ? .projectionBound : .reference)
    return withoutGradients {
        let qf = performerFeatures(q, projection: projection, kernel: kernel, role: .query, stabilizer: stabilizer)
        let kf = performerFeatures(k, projection: projection, kernel: kernel, role: .key, stabilizer: stabilizer)
        let approximate = linearAttention(queryFeatures: qf, keyFeatures: kf, values: v, causal: causal).scalars
        let exact = scaledDotProductAttention(queries: q, keys: k, values: v, causal: causal).scalars
        var difference = 0.0, norm = 0.0
        for (a, e) in zip(approximate, exact) {
            difference += Double(a - e) * Double(a - e)
            norm += Double(e) * Double(e)
        }
        return (difference / Swift.max(norm, .leastNonzeroMagnitude)).squareRoot()
    }
}

extension Performer: ApproximateAttention {
    public func approximateAttention(queries: Tensor, keys: Tensor, values: Tensor, mask: AttentionMask) -> Tensor {
        attend(queries: queries, keys: keys, values: values, mask: mask)
    }

    public var approximationSettings: [String: Int] { ["features": features] }
}
