import GlanceCore

// TEMPORARY: today's kernel, kept only to compare the blockwise one against it; removed before the branch ends.
public func _legacyScaledDotProductAttention(queries q: Tensor, keys k: Tensor, values v: Tensor,
                                      causal: Bool = false, keyPadding: [[Bool]]? = nil, scale: Float? = nil,
                                      relativeScores: RelativeScoreTerm? = nil, postSoftmaxMask: PostSoftmaxMask? = nil) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention expects [B, H, N, D] tensors, got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, heads, queryCount, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let keyCount = k.shape[2], valueDepth = v.shape[3]
    precondition(k.shape == [batch, heads, keyCount, depth] && v.shape == [batch, heads, keyCount, valueDepth],
                 "attention shapes disagree: q \(q.shape), k \(k.shape), v \(v.shape)")
    precondition(!causal || queryCount <= keyCount,
                 "causal attention needs at least as many keys as queries (the queries are the last positions), got \(queryCount) queries and \(keyCount) keys")
    if let keyPadding {
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == keyCount },
                     "key padding mask must be \(batch) × \(keyCount)")
    }
    let alpha = scale ?? 1 / Float(depth).squareRoot()
    let geometry = AttentionGeometry(batch: batch, heads: heads, queries: queryCount, keys: keyCount,
                                     depth: depth, valueDepth: valueDepth, causal: causal)
    if let relativeScores {
        let shape = relativeScores.scores.shape
        precondition((shape[0] == batch || shape[0] == 1) && shape[1] == heads && shape[2] == queryCount,
                     "relative scores \(shape) do not fit \(batch) × \(heads) heads × \(queryCount) queries")
        requireDistances(of: "relative score term", largestDistance: relativeScores.largestDistance, columns: shape[3], geometry: geometry)
    }
    if let postSoftmaxMask {
        let shape = postSoftmaxMask.weights.shape
        precondition(shape[0] == heads, "post-softmax mask weights \(shape) do not fit \(heads) heads")
        requireDistances(of: "post-softmax mask", largestDistance: postSoftmaxMask.largestDistance, columns: shape[1], geometry: geometry)
    }
    let padding = keyPadding.map { rows in rows.map { row in row.map { $0 ? Float(0) : -Float.infinity } } }
    let extras = [relativeScores?.scores, postSoftmaxMask?.weights].compactMap { $0 }
    // Probabilities (and the mask's row normalizers) are kept only when a backward pass will need them.
    let recording = GradientMode.isRecording && ([q, k, v] + extras).contains { $0.requiresGradient }
    let probabilities = TensorStorage(count: recording ? batch * heads * queryCount * keyCount : 0)
    let normalizers = TensorStorage(count: recording && postSoftmaxMask != nil ? batch * heads * queryCount : 0)
    let output = Tensor(shape: [batch, heads, queryCount, valueDepth]) { out in
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    withDistanceRows(relativeScores, postSoftmaxMask, geometry) { rows in
                        if recording {
                            geometry.legacyForward(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, scale: alpha, padding: padding,
                                             rows: rows, probabilities: probabilities.pointer, normalizers: normalizers.pointer,
                                             output: out.baseAddress!)
                        } else {
                            geometry.legacyStreamingForward(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, scale: alpha,
                                                      padding: padding, rows: rows, output: out.baseAddress!)
                        }
                    }
                }
            }
        }
    }
    guard recording else { return output }
    let (qd, kd, vd) = (q.detached(), k.detached(), v.detached())
    let (termValues, maskValues) = (relativeScores.map { RelativeScoreTerm(scores: $0.scores.detached(), largestDistance: $0.largestDistance) },
                                    postSoftmaxMask.map { PostSoftmaxMask(weights: $0.weights.detached(), largestDistance: $0.largestDistance) })
    return output.recorded(from: [q, k, v] + extras) { g in
        let gradients = DistanceTermGradients(relativeScores: termValues, postSoftmaxMask: maskValues, geometry: geometry)
        let attention = withDistanceRows(termValues, maskValues, geometry) { rows in
            attentionGradients(q: qd, k: kd, v: vd, outputGradient: g) { b in
                geometry.legacyBackward(q: b.q, k: b.k, v: b.v, probabilities: probabilities.pointer, normalizers: normalizers.pointer,
                                  outputGradient: b.outputGradient, scale: alpha, rows: rows, gradientRows: gradients.rows,
                                  dq: b.dq, dk: b.dk, dv: b.dv)
            }
        }
        return attention + gradients.tensors()
    }
}

extension AttentionGeometry {
    func legacyForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, scale: Float, padding: [[Float]]?,
                 rows terms: DistanceRows, probabilities: UnsafeMutablePointer<Float>, normalizers: UnsafeMutablePointer<Float>,
                 output: UnsafeMutablePointer<Float>) {
        let blocksPerHead = (queries + blockRows - 1) / blockRows
        let (pq, pk, pv) = (SendablePointer(q), SendablePointer(k), SendablePointer(v))
        let pp = SendablePointer(probabilities), pn = SendablePointer(normalizers), po = SendablePointer(output)
        parallelFor(batch * heads * blocksPerHead) { tasks in
            // The mask's weighted probabilities p′ of one block; p stays in `probabilities` for the backward.
            let weighted = UnsafeMutablePointer<Float>.allocate(capacity: terms.mask == nil ? 0 : blockRows * keys)
            defer { weighted.deallocate() }
            for task in tasks {
                let head = task / blocksPerHead, block = task % blocksPerHead
                let start = block * blockRows, end = Swift.min(queries, start + blockRows), rows = end - start
                let visible = visibleKeys(end: end)
                let scores = pp.base + head * queries * keys + start * keys
                BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: visible, k: depth, alpha: scale,
                           a: pq.base + (head * queries + start) * depth, lda: depth,
                           b: pk.base + head * keys * depth, ldb: depth, c: scores, ldc: keys)
                let mask = padding?[head / heads]
                for r in 0..<rows {
                    let row = scores + r * keys
                    if let mask { for j in 0..<visible { row[j] += mask[j] } }
                    let limit = causal ? memory + start + r + 1 : visible
                    for j in limit..<visible { row[j] = -.infinity }
                    if let term = terms.scores { vectorAxpy(1, term(head: head, query: start + r), row, limit) }
                    softmaxRowInPlace(row, visible)
                    if let weights = terms.mask {
                        let out = weighted + r * keys
                        pn.base[head * queries + start + r] = LegacyMaskRow.apply(
                            probabilities: row, weights: weights(head: head, query: start + r), weighted: out, limit)
                        (out + limit).update(repeating: 0, count: visible - limit)
                    }
                }
                BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: valueDepth, k: visible,
                           a: terms.mask == nil ? scores : weighted, lda: keys, b: pv.base + head * keys * valueDepth, ldb: valueDepth,
                           c: po.base + (head * queries + start) * valueDepth, ldc: valueDepth)
            }
        }
    }

    /// Forward without keeping probabilities (inference): keys are visited in blocks with a
    /// running maximum and normalizer per query row (online softmax), so the scores of a
    /// query block never leave the cache. Under a post-softmax mask each row also keeps the
    /// running sum of its weighted exponentials W; the output divides by W + ε·Z, which is
    /// the renormalisation Σ p·w + ε with p = e/Z multiplied through by Z.
    func legacyStreamingForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, scale: Float,
                          padding: [[Float]]?, rows terms: DistanceRows, output: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, po) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(output))
        let (blockRows, keyBlock) = (causal ? self.blockRows : 512, 512)
        let blocksPerHead = (queries + blockRows - 1) / blockRows
        parallelFor(batch * heads * blocksPerHead) { tasks in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * keyBlock)
            let runningMax = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
            let runningSum = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
            let runningWeighted = UnsafeMutablePointer<Float>.allocate(capacity: terms.mask == nil ? 0 : blockRows)
            defer { scores.deallocate(); runningMax.deallocate(); runningSum.deallocate(); runningWeighted.deallocate() }
            for task in tasks {
                let head = task / blocksPerHead, block = task % blocksPerHead
                let start = block * blockRows, end = Swift.min(queries, start + blockRows), rows = end - start
                let visible = visibleKeys(end: end)
                let out = po.base + (head * queries + start) * valueDepth
                out.update(repeating: 0, count: rows * valueDepth)
                runningMax.update(repeating: -.infinity, count: rows)
                runningSum.update(repeating: 0, count: rows)
                if terms.mask != nil { runningWeighted.update(repeating: 0, count: rows) }
                let mask = padding?[head / heads]
                for keyStart in stride(from: 0, to: visible, by: keyBlock) {
                    let columns = Swift.min(keyBlock, visible - keyStart)
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: columns, k: depth, alpha: scale,
                               a: pq.base + (head * queries + start) * depth, lda: depth,
                               b: pk.base + (head * keys + keyStart) * depth, ldb: depth, c: scores, ldc: keyBlock)
                    for r in 0..<rows {
                        let row = scores + r * keyBlock
                        if let mask { for j in 0..<columns { row[j] += mask[keyStart + j] } }
                        // Keys of this block that the query may see.
                        let limit = causal ? Swift.min(columns, Swift.max(0, memory + start + r + 1 - keyStart)) : columns
                        for j in limit..<columns { row[j] = -.infinity }
                        if let term = terms.scores { vectorAxpy(1, term(head: head, query: start + r) + keyStart, row, limit) }
                        let peak = Swift.max(runningMax[r], vectorMax(row, columns))
                        guard peak > -Float.infinity else {
                            row.update(repeating: 0, count: columns)
                            continue
                        }
                        let correction = runningMax[r] > -Float.infinity ? fastExp(runningMax[r] - peak) : 0
                        runningSum[r] = runningSum[r] * correction + exponentiateRow(row, columns, shift: peak)
                        if let weights = terms.mask {
                            let weightedSum = LegacyMaskRow.weigh(row, weights: weights(head: head, query: start + r) + keyStart, limit)
                            runningWeighted[r] = runningWeighted[r] * correction + weightedSum
                        }
                        runningMax[r] = peak
                        if correction != 1 { vectorScale(out + r * valueDepth, correction, valueDepth) }
                    }
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: valueDepth, k: columns,
                               a: scores, lda: keyBlock, b: pv.base + (head * keys + keyStart) * valueDepth, ldb: valueDepth,
                               beta: 1, c: out, ldc: valueDepth)
                }
                for r in 0..<rows where runningSum[r] > 0 {
                    let normalizer = terms.mask == nil ? runningSum[r] : runningWeighted[r] + PostSoftmaxMask.epsilon * runningSum[r]
                    vectorScale(out + r * valueDepth, 1 / normalizer, valueDepth)
                }
            }
        }
    }

    /// The backward pass from the probabilities p the recording forward kept. Under a
    /// post-softmax mask, p′ = p ⊙ w / s is rebuilt block by block from p and the row
    /// normalizers s; `gradientRows` receive the gradients of the score term and the mask.
    func legacyBackward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  probabilities: UnsafePointer<Float>, normalizers: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  scale: Float, rows terms: DistanceRows, gradientRows: DistanceRows,
                  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, pp, pg) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(probabilities), SendablePointer(outputGradient))
        let (pdq, pdk, pdv, pn) = (SendablePointer(dq), SendablePointer(dk), SendablePointer(dv), SendablePointer(normalizers))
        let blockRows = self.blockRows
        // Heads are independent; within a head, blocks accumulate into dK and dV in order.
        parallelFor(batch * heads) { headRange in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * keys)
            let weighted = UnsafeMutablePointer<Float>.allocate(capacity: terms.mask == nil ? 0 : blockRows * keys)
            defer { scratch.deallocate(); weighted.deallocate() }
            for head in headRange {
                let qHead = pq.base + head * queries * depth, kHead = pk.base + head * keys * depth
                let vHead = pv.base + head * keys * valueDepth, gHead = pg.base + head * queries * valueDepth
                let dqHead = pdq.base + head * queries * depth, dkHead = pdk.base + head * keys * depth
                let dvHead = pdv.base + head * keys * valueDepth
                for start in stride(from: 0, to: queries, by: blockRows) {
                    let end = Swift.min(queries, start + blockRows), rows = end - start
                    let visible = visibleKeys(end: end)
                    let p = pp.base + head * queries * keys + start * keys
                    let gBlock = gHead + start * valueDepth
                    if let weights = terms.mask {
                        for r in 0..<rows {
                            let limit = causal ? memory + start + r + 1 : visible, out = weighted + r * keys
                            _ = LegacyMaskRow.apply(probabilities: p + r * keys, weights: weights(head: head, query: start + r), weighted: out, limit)
                            (out + limit).update(repeating: 0, count: visible - limit)
                        }
                    }
                    // dV += P′ᵀ · dO
                    BLAS.sgemm(transposeA: true, transposeB: false, m: visible, n: valueDepth, k: rows,
                               a: terms.mask == nil ? p : weighted, lda: keys, b: gBlock, ldb: valueDepth, beta: 1, c: dvHead, ldc: valueDepth)
                    // dP′ = dO · Vᵀ, then through the mask to dP, then dS = P ⊙ (dP − ⟨dP, P⟩) row by row
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: visible, k: valueDepth,
                               a: gBlock, lda: valueDepth, b: vHead, ldb: valueDepth, c: scratch, ldc: keys)
                    for r in 0..<rows {
                        let limit = causal ? memory + start + r + 1 : visible, dRow = scratch + r * keys
                        if let weights = terms.mask, let weightGradient = gradientRows.mask {
                            LegacyMaskRow.backward(probabilities: p + r * keys, weighted: weighted + r * keys,
                                                        weights: weights(head: head, query: start + r), normalizer: pn.base[head * queries + start + r],
                                                        gradient: dRow, weightGradient: weightGradient(head: head, query: start + r), limit)
                        }
                        softmaxBackwardRow(y: p + r * keys, dy: dRow, dx: dRow, visible)
                        if let termGradient = gradientRows.scores { vectorAxpy(1, dRow, termGradient(head: head, query: start + r), limit) }
                    }
                    // dQ = scale · dS · K ; dK += scale · dSᵀ · Q
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: depth, k: visible, alpha: scale,
                               a: scratch, lda: keys, b: kHead, ldb: depth, c: dqHead + start * depth, ldc: depth)
                    BLAS.sgemm(transposeA: true, transposeB: false, m: visible, n: depth, k: rows, alpha: scale,
                               a: scratch, lda: keys, b: qHead + start * depth, ldb: depth, beta: 1, c: dkHead, ldc: depth)
                }
            }
        }
    }
}

/// The kernel's row operations of a ``PostSoftmaxMask``.
enum LegacyMaskRow {
    /// Multiplies the first `count` entries of `row` by the weights and returns their sum.
    static func weigh(_ row: UnsafeMutablePointer<Float>, weights w: UnsafePointer<Float>, _ count: Int) -> Float {
        var total: Float = 0
        for j in 0..<count {
            row[j] *= w[j]
            total += row[j]
        }
        return total
    }

    /// Writes p′ = p ⊙ w / s into `weighted` for the first `count` keys and returns
    /// s = Σ p ⊙ w + ε, the row's normalizer.
    static func apply(probabilities p: UnsafePointer<Float>, weights w: UnsafePointer<Float>, weighted: UnsafeMutablePointer<Float>,
                      _ count: Int) -> Float {
        weighted.update(from: p, count: count)
        let normalizer = weigh(weighted, weights: w, count) + PostSoftmaxMask.epsilon
        vectorScale(weighted, 1 / normalizer, count)
        return normalizer
    }

    /// Backward of ``apply(probabilities:weights:weighted:_:)`` for one row: from dp′ in
    /// `gradient`, adds dw = du ⊙ p into `weightGradient` and replaces `gradient` by
    /// dp = du ⊙ w, where du = (dp′ − ⟨dp′, p′⟩) / s.
    static func backward(probabilities p: UnsafePointer<Float>, weighted: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                         normalizer: Float, gradient: UnsafeMutablePointer<Float>, weightGradient: UnsafeMutablePointer<Float>, _ count: Int) {
        let inner = vectorDot(gradient, weighted, count)
        let inverse = 1 / normalizer
        for j in 0..<count {
            let du = (gradient[j] - inner) * inverse
            weightGradient[j] += du * p[j]
            gradient[j] = du * w[j]
        }
    }
}
