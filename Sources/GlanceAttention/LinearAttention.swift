import GlanceCore

/// Linear attention out_i = Σ_j (φq_i·φk_j) v_j / (Σ_j φq_i·φk_j + ε·Σ_l φq_il) over the keys j
/// each query sees (all of them, or j ≤ i when `causal`), for features [B, H, n, m] and values
/// [B, H, n, d], with a fused forward and a hand-written backward.
///
/// Bidirectional: S = φkᵀ[V 1] (m × (d+1)) and φq·S, in blocks of rows. Causal: positions are
/// walked in chunks of 64 with a running S; inside a chunk the scores φq·φkᵀ are masked to the
/// lower triangle. The backward walks forward once more for the query gradients and backward
/// once with the running sum R = Σ_{i later} φq_i g_iᵀ for the key and value gradients.
/// Working memory per head is O(n·d + m·d + 64²): the n × m × d prefix tensor is never formed.
/// ε is performer-pytorch's (0 bidirectional, 1e-6 causal).
public func linearAttention(queryFeatures qf: Tensor, keyFeatures kf: Tensor, values v: Tensor,
                            causal: Bool, epsilon: Float? = nil) -> Tensor {
    precondition(qf.rank == 4 && kf.rank == 4 && v.rank == 4, "linearAttention expects [B, H, n, ·] tensors")
    let (batch, heads, n, m) = (qf.shape[0], qf.shape[1], qf.shape[2], qf.shape[3])
    let d = v.shape[3]
    precondition(kf.shape == qf.shape && v.shape == [batch, heads, n, d],
                 "linearAttention shapes disagree: \(qf.shape), \(kf.shape), \(v.shape)")
    let kernel = LinearAttentionKernel(slices: batch * heads, n: n, m: m, d: d, causal: causal, epsilon: epsilon)
    let recording = GradientMode.isRecording && (qf.requiresGradient || kf.requiresGradient || v.requiresGradient)
    let denominators = TensorStorage(count: batch * heads * n)
    let output = Tensor(shape: [batch, heads, n, d]) { out in
        qf.withUnsafeBufferPointer { q in
            kf.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { vb in
                    kernel.forward(StoredFeatures(query: q.baseAddress!, key: k.baseAddress!, n: n, m: m), values: vb.baseAddress!,
                                   out: out.baseAddress!, denominators: denominators.pointer)
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
                dq.withUnsafeMutableBufferPointer { dqb in
                    dk.withUnsafeMutableBufferPointer { dkb in
                        let source = StoredFeatures(query: q.baseAddress!, key: k.baseAddress!, n: n, m: m,
                                                    queryGradient: dqb.baseAddress!, keyGradient: dkb.baseAddress!)
                        kernel.backward(source, values: vd, output: od, denominators: denominators.pointer, gradient: g, valueGradient: &dv)
                    }
                }
            }
        }
        return [dq, dk, dv]
    }
}

/// Where ``LinearAttentionKernel`` gets the features of a block of rows of one head (slice)
/// and where the gradients of those features go.
protocol FeatureSource {
    /// The features [rows × m] of rows `start..<start+rows` of `slice`: stored ones, or ones
    /// computed into `buffer` (rows × m).
    func features(_ role: FeatureRole, slice: Int, start: Int, rows: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>
    /// Where the kernel writes (overwriting) the gradient of those features: the stored
    /// gradient, or `buffer` (rows × m).
    func gradientDestination(_ role: FeatureRole, slice: Int, start: Int, rows: Int,
                             buffer: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float>
    /// Called when the gradient of those features, `gradient`, is complete; `features` are the
    /// rows' features and `scratch` holds rows × m floats.
    func gradientComplete(_ role: FeatureRole, slice: Int, start: Int, rows: Int, features: UnsafePointer<Float>,
                          gradient: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)
}

/// Features held in [slices, n, m] arrays, with gradients written in place.
struct StoredFeatures: FeatureSource {
    let query: UnsafePointer<Float>, key: UnsafePointer<Float>
    let n: Int, m: Int
    var queryGradient: UnsafeMutablePointer<Float>? = nil, keyGradient: UnsafeMutablePointer<Float>? = nil

    func features(_ role: FeatureRole, slice: Int, start: Int, rows: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        (role == .query ? query : key) + (slice * n + start) * m
    }

    func gradientDestination(_ role: FeatureRole, slice: Int, start: Int, rows: Int,
                             buffer: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        (role == .query ? queryGradient! : keyGradient!) + (slice * n + start) * m
    }

    func gradientComplete(_ role: FeatureRole, slice: Int, start: Int, rows: Int, features: UnsafePointer<Float>,
                          gradient: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {}
}

/// Loops of linear attention over the heads (slices), in blocks of rows, for any ``FeatureSource``.
struct LinearAttentionKernel {
    let slices, n, m, d: Int
    let causal: Bool
    let epsilon: Float
    /// Rows per block: 64 under causal masking (the masked in-chunk products grow with it), 256 otherwise.
    let chunk: Int
    var width: Int { d + 1 }

    /// performer-pytorch's ε under causal masking.
    static let causalEpsilon: Float = 1e-6

    init(slices: Int, n: Int, m: Int, d: Int, causal: Bool, epsilon: Float?) {
        (self.slices, self.n, self.m, self.d, self.causal) = (slices, n, m, d, causal)
        self.epsilon = epsilon ?? (causal ? Self.causalEpsilon : 0)
        chunk = causal ? 64 : 256
    }

    /// Start and row count of each block.
    var blocks: [(start: Int, rows: Int)] {
        stride(from: 0, to: n, by: chunk).map { ($0, Swift.min(chunk, n - $0)) }
    }

    /// [V 1] for one head: n × (d+1).
    func augmented(_ v: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            (buffer + i * width).update(from: v + i * d, count: d)
            buffer[i * width + d] = 1
        }
    }

    /// Splits the numerators of a block [rows × (d+1)] (last column: denominator) into outputs.
    func normalize(_ numerators: UnsafeMutablePointer<Float>, queryFeatures q: UnsafePointer<Float>, rows: Int,
                   out: UnsafeMutablePointer<Float>, denominators: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = numerators + r * width
            var denominator = row[d]
            if epsilon != 0 { denominator += epsilon * vectorSum(q + r * m, m) }
            denominators[r] = denominator
            let inverse = 1 / denominator
            for c in 0..<d { out[r * d + c] = row[c] * inverse }
        }
    }

    /// c = a·bᵀ for two blocks of `rows` rows (leading dimension `depth`), masked to its lower
    /// triangle (row i sees columns j ≤ i): the in-chunk scores of causal attention.
    func lowerTriangularProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, depth: Int, rows: Int,
                                into c: UnsafeMutablePointer<Float>) {
        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: rows, k: depth, a: a, lda: depth,
                   b: b, ldb: depth, c: c, ldc: chunk)
        maskUpper(c, rows)
    }

    /// Zeroes entries above the diagonal of a rows × rows block (leading dimension `chunk`).
    func maskUpper(_ scores: UnsafeMutablePointer<Float>, _ rows: Int) {
        for r in 0..<rows where r + 1 < rows {
            (scores + r * chunk + r + 1).update(repeating: 0, count: rows - r - 1)
        }
    }

    /// S += Σ_j φk_jᵀ [v_j 1] over every key of `slice`, block by block (bidirectional attention).
    func accumulateKeyState<Source: FeatureSource>(_ source: Source, slice: Int, values: UnsafePointer<Float>,
                                                   into state: UnsafeMutablePointer<Float>, buffer: UnsafeMutablePointer<Float>) {
        for (start, rows) in blocks {
            let kc = source.features(.key, slice: slice, start: start, rows: rows, buffer: buffer)
            BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: kc, lda: m,
                       b: values + start * width, ldb: width, beta: 1, c: state, ldc: width)
        }
    }

    func forward<Source: FeatureSource>(_ source: Source, values v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                                        denominators: UnsafeMutablePointer<Float>) {
        let (pv, po, pz) = (SendablePointer(v), SendablePointer(out), SendablePointer(denominators))
        let (n, m, d, width, chunk) = (self.n, self.m, self.d, self.width, self.chunk)
        parallelFor(slices) { range in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let state = UnsafeMutablePointer<Float>.allocate(capacity: m * width)
            let numerators = UnsafeMutablePointer<Float>.allocate(capacity: chunk * width)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * chunk)
            let featureBuffers = UnsafeMutablePointer<Float>.allocate(capacity: 2 * chunk * m)
            defer { values.deallocate(); state.deallocate(); numerators.deallocate(); scores.deallocate(); featureBuffers.deallocate() }
            let (queryBuffer, keyBuffer) = (featureBuffers, featureBuffers + chunk * m)
            for slice in range {
                let os = po.base + slice * n * d, zs = pz.base + slice * n
                augmented(pv.base + slice * n * d, into: values)
                state.update(repeating: 0, count: m * width)
                if !causal {
                    accumulateKeyState(source, slice: slice, values: values, into: state, buffer: keyBuffer)
                }
                for (start, rows) in blocks {
                    let qc = source.features(.query, slice: slice, start: start, rows: rows, buffer: queryBuffer)
                    if causal {
                        let kc = source.features(.key, slice: slice, start: start, rows: rows, buffer: keyBuffer)
                        let vc = values + start * width
                        lowerTriangularProduct(qc, kc, depth: m, rows: rows, into: scores)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: rows, a: scores, lda: chunk,
                                   b: vc, ldb: width, c: numerators, ldc: width)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: qc, lda: m,
                                   b: state, ldb: width, beta: 1, c: numerators, ldc: width)
                        BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: kc, lda: m,
                                   b: vc, ldb: width, beta: 1, c: state, ldc: width)
                    } else {
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: qc, lda: m,
                                   b: state, ldb: width, c: numerators, ldc: width)
                    }
                    normalize(numerators, queryFeatures: qc, rows: rows, out: os + start * d, denominators: zs + start)
                }
            }
        }
    }

    /// Gradients of the features (through `source`) and of the values (`valueGradient`, [slices, n, d])
    /// from the forward's `output` and `denominators` and the output gradient.
    func backward<Source: FeatureSource>(_ source: Source, values v: Tensor, output: Tensor, denominators: UnsafePointer<Float>,
                                         gradient g: Tensor, valueGradient: inout Tensor) {
        v.withUnsafeBufferPointer { vb in
            output.withUnsafeBufferPointer { ob in
                g.withUnsafeBufferPointer { gb in
                    valueGradient.withUnsafeMutableBufferPointer { dvb in
                        backward(source, values: vb.baseAddress!, output: ob.baseAddress!, denominators: denominators,
                                 gradient: gb.baseAddress!, valueGradient: dvb.baseAddress!)
                    }
                }
            }
        }
    }

    private func backward<Source: FeatureSource>(_ source: Source, values v: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                                 denominators: UnsafePointer<Float>, gradient g: UnsafePointer<Float>,
                                                 valueGradient dv: UnsafeMutablePointer<Float>) {
        let (pv, po, pz, pg, pdv) = (SendablePointer(v), SendablePointer(output), SendablePointer(denominators), SendablePointer(g),
                                     SendablePointer(dv))
        let (n, m, d, width, chunk) = (self.n, self.m, self.d, self.width, self.chunk)
        parallelFor(slices) { range in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let grads = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
            let states = UnsafeMutablePointer<Float>.allocate(capacity: 2 * m * width)
            let dvAug = UnsafeMutablePointer<Float>.allocate(capacity: chunk * width)
            let products = UnsafeMutablePointer<Float>.allocate(capacity: 2 * chunk * chunk)
            let buffers = UnsafeMutablePointer<Float>.allocate(capacity: 5 * chunk * m)
            defer {
                values.deallocate(); grads.deallocate(); states.deallocate(); dvAug.deallocate()
                products.deallocate(); buffers.deallocate()
            }
            let (state, reverse) = (states, states + m * width)
            let (scores, gradientProducts) = (products, products + chunk * chunk)
            let (queryBuffer, keyBuffer, queryGradientBuffer, keyGradientBuffer, scratch) =
                (buffers, buffers + chunk * m, buffers + 2 * chunk * m, buffers + 3 * chunk * m, buffers + 4 * chunk * m)
            for slice in range {
                let dvs = pdv.base + slice * n * d
                augmented(pv.base + slice * n * d, into: values)
                // G' = [g/z, −(g·out)/z]: the gradient of the numerators [num, z].
                for i in 0..<n {
                    let index = slice * n + i
                    let inverse = 1 / pz.base[index]
                    let gi = pg.base + index * d, oi = po.base + index * d, row = grads + i * width
                    for c in 0..<d { row[c] = gi[c] * inverse }
                    row[d] = -vectorDot(gi, oi, d) * inverse
                }
                /// dφq of a block: its gradient destination after `body` wrote it, plus the ε·Σφq term, then completion.
                func queryGradient(_ start: Int, _ rows: Int, _ qc: UnsafePointer<Float>, _ body: (UnsafeMutablePointer<Float>) -> Void) {
                    let dq = source.gradientDestination(.query, slice: slice, start: start, rows: rows, buffer: queryGradientBuffer)
                    body(dq)
                    if epsilon != 0 {
                        for r in 0..<rows {
                            let extra = epsilon * grads[(start + r) * width + d], row = dq + r * m
                            for l in 0..<m { row[l] += extra }
                        }
                    }
                    source.gradientComplete(.query, slice: slice, start: start, rows: rows, features: qc, gradient: dq, scratch: scratch)
                }
                state.update(repeating: 0, count: m * width)
                reverse.update(repeating: 0, count: m * width)
                if !causal {
                    // S = φkᵀ V'; dφq = G' Sᵀ; R = φqᵀ G'; dφk = V' Rᵀ; dV' = φk R.
                    accumulateKeyState(source, slice: slice, values: values, into: state, buffer: keyBuffer)
                    for (start, rows) in blocks {
                        let qc = source.features(.query, slice: slice, start: start, rows: rows, buffer: queryBuffer)
                        let gc = grads + start * width
                        queryGradient(start, rows, qc) { dq in
                            BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: gc, lda: width,
                                       b: state, ldb: width, c: dq, ldc: m)
                        }
                        BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: qc, lda: m,
                                   b: gc, ldb: width, beta: 1, c: reverse, ldc: width)
                    }
                    for (start, rows) in blocks {
                        let kc = source.features(.key, slice: slice, start: start, rows: rows, buffer: keyBuffer)
                        let dk = source.gradientDestination(.key, slice: slice, start: start, rows: rows, buffer: keyGradientBuffer)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: values + start * width, lda: width,
                                   b: reverse, ldb: width, c: dk, ldc: m)
                        source.gradientComplete(.key, slice: slice, start: start, rows: rows, features: kc, gradient: dk, scratch: scratch)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: kc, lda: m,
                                   b: reverse, ldb: width, c: dvAug, ldc: width)
                        for r in 0..<rows { (dvs + (start + r) * d).update(from: dvAug + r * width, count: d) }
                    }
                    continue
                }
                // Query gradients, walking forward with S' = Σ_{j before} φk_j [v_j 1]ᵀ.
                for (start, rows) in blocks {
                    let qc = source.features(.query, slice: slice, start: start, rows: rows, buffer: queryBuffer)
                    let kc = source.features(.key, slice: slice, start: start, rows: rows, buffer: keyBuffer)
                    let vc = values + start * width, gc = grads + start * width
                    lowerTriangularProduct(gc, vc, depth: width, rows: rows, into: gradientProducts)
                    queryGradient(start, rows, qc) { dq in
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: m, k: rows, a: gradientProducts, lda: chunk,
                                   b: kc, ldb: m, c: dq, ldc: m)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: gc, lda: width,
                                   b: state, ldb: width, beta: 1, c: dq, ldc: m)
                    }
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: kc, lda: m,
                               b: vc, ldb: width, beta: 1, c: state, ldc: width)
                }
                // Key and value gradients, walking backward with R' = Σ_{i after} φq_i g'_iᵀ.
                for (start, rows) in blocks.reversed() {
                    let qc = source.features(.query, slice: slice, start: start, rows: rows, buffer: queryBuffer)
                    let kc = source.features(.key, slice: slice, start: start, rows: rows, buffer: keyBuffer)
                    let vc = values + start * width, gc = grads + start * width
                    lowerTriangularProduct(gc, vc, depth: width, rows: rows, into: gradientProducts)
                    lowerTriangularProduct(qc, kc, depth: m, rows: rows, into: scores)
                    // dφk_c = Bᵀ φq_c + V'_c R'ᵀ
                    let dk = source.gradientDestination(.key, slice: slice, start: start, rows: rows, buffer: keyGradientBuffer)
                    BLAS.sgemm(transposeA: true, transposeB: false, m: rows, n: m, k: rows, a: gradientProducts, lda: chunk,
                               b: qc, ldb: m, c: dk, ldc: m)
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: width, a: vc, lda: width,
                               b: reverse, ldb: width, beta: 1, c: dk, ldc: m)
                    source.gradientComplete(.key, slice: slice, start: start, rows: rows, features: kc, gradient: dk, scratch: scratch)
                    // dV'_c = Aᵀ G'_c + φk_c R'
                    BLAS.sgemm(transposeA: true, transposeB: false, m: rows, n: width, k: rows, a: scores, lda: chunk,
                               b: gc, ldb: width, c: dvAug, ldc: width)
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: width, k: m, a: kc, lda: m,
                               b: reverse, ldb: width, beta: 1, c: dvAug, ldc: width)
                    for r in 0..<rows { (dvs + (start + r) * d).update(from: dvAug + r * width, count: d) }
                    BLAS.sgemm(transposeA: true, transposeB: false, m: m, n: width, k: rows, a: qc, lda: m,
                               b: gc, ldb: width, beta: 1, c: reverse, ldc: width)
                }
            }
        }
    }
}
