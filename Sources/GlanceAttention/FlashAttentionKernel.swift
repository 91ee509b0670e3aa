import Foundation
import GlanceCore

/// Sizes and loops of the exact attention kernel, which stores nothing quadratic
/// (FlashAttention-2's scheme, Dao 2023, on BLAS blocks).
///
/// The forward streams key blocks through an online softmax and keeps, per query row, only
/// the log-sum-exp of its scores (and, under a post-softmax mask, the row's normalizer). The
/// backward recomputes each block of scores from Q, K and that log-sum-exp, so its memory is
/// a few blocks of scratch per thread instead of the B·H·Nq·Nk probabilities.
struct AttentionGeometry: Sendable {
    let batch, heads, queries, keys, depth, valueDepth: Int
    let causal: Bool

    /// Rows of queries per block. Causal attention uses smaller blocks on short sequences so
    /// that blocks skip the keys they cannot see (at 256 tokens, 64-row blocks compute 5/8 of
    /// the scores).
    var blockRows: Int { causal ? Swift.min(256, Swift.max(64, queries / 8)) : 256 }

    /// Keys before the first query's position (M = Nk − Nq): query i sits at position M + i.
    var memory: Int { keys - queries }

    /// Keys visible to a block of queries ending (exclusive) at `end`.
    func visibleKeys(end: Int) -> Int { causal ? Swift.min(keys, memory + end) : keys }

    /// Keys of a block starting at key `keyStart` that query `query` may see, out of `columns`.
    func visibleColumns(query: Int, keyStart: Int, columns: Int) -> Int {
        causal ? Swift.min(columns, Swift.max(0, memory + query + 1 - keyStart)) : columns
    }

    /// Keys per block of the forward: a block of scores stays in the L2 cache.
    var keyBlock: Int { 512 }

    /// Query rows per block of the forward: 512 halves the packing of K and V relative to 256
    /// (about 8% less CPU time at n = 4,096, single-threaded).
    var forwardBlockRows: Int { causal ? blockRows : 512 }

    /// Masks one row of `columns` scores of the keys from `keyStart` for query `query` of head
    /// `head` in place — padding, the causal limit (−∞ beyond the returned count of visible
    /// keys) and the relative score term — and returns that count.
    func maskRow(_ row: UnsafeMutablePointer<Float>, head: Int, query: Int, keyStart: Int, columns: Int,
                 padding: [Float]?, terms: DistanceRows) -> Int {
        if let padding { padding.withUnsafeBufferPointer { vectorAxpy(1, $0.baseAddress! + keyStart, row, columns) } }
        let limit = visibleColumns(query: query, keyStart: keyStart, columns: columns)
        (row + limit).update(repeating: -.infinity, count: columns - limit)
        if let term = terms.scores { vectorAxpy(1, term(head: head, query: query) + keyStart, row, limit) }
        return limit
    }

    /// The forward pass. Keys are visited in blocks with a running maximum and normalizer per
    /// query row (online softmax), so the scores of a query block never leave the cache.
    /// Under a post-softmax mask each row also keeps the running sum of its weighted
    /// exponentials W; the output divides by W + ε·Z, which is the renormalisation Σ p·w + ε
    /// with p = e/Z multiplied through by Z. When `statistics` is given, each row's
    /// log-sum-exp (−∞ for a row that sees no key) and mask normalizer s = W/Z + ε are kept.
    func forward(q: HeadRows, k: HeadRows, v: HeadRows, output: HeadRows, scale: Float, padding: [[Float]]?,
                 rows terms: DistanceRows, statistics: AttentionRowStatistics?) {
        let (blockRows, keyBlock) = (forwardBlockRows, self.keyBlock)
        let blocksPerHead = (queries + blockRows - 1) / blockRows
        parallelFor(batch * heads * blocksPerHead) { tasks in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * keyBlock)
            let runningMax = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
            let runningSum = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
            let runningWeighted = UnsafeMutablePointer<Float>.allocate(capacity: terms.mask == nil ? 0 : blockRows)
            let bandStride = PositionTermBand.stride(blockRows: blockRows, keys: keys)
            let band = UnsafeMutablePointer<Float>.allocate(capacity: terms.position == nil ? 0 : blockRows * bandStride)
            defer { scores.deallocate(); runningMax.deallocate(); runningSum.deallocate(); runningWeighted.deallocate(); band.deallocate() }
            for task in tasks {
                let head = task / blocksPerHead, block = task % blocksPerHead
                let start = block * blockRows, end = Swift.min(queries, start + blockRows), rows = end - start
                let visible = visibleKeys(end: end)
                var blockTerms = terms
                if let position = terms.position {
                    blockTerms.scores = position.fill(head: head, start: start, end: end, visibleKeys: visible, band: band, stride: bandStride)
                }
                let (qBlock, out) = (q.head(head) + start * q.stride, output.head(head) + start * output.stride)
                for r in 0..<rows { (out + r * output.stride).update(repeating: 0, count: valueDepth) }
                runningMax.update(repeating: -.infinity, count: rows)
                runningSum.update(repeating: 0, count: rows)
                if terms.mask != nil { runningWeighted.update(repeating: 0, count: rows) }
                let mask = padding?[head / heads]
                for keyStart in stride(from: 0, to: visible, by: keyBlock) {
                    let columns = Swift.min(keyBlock, visible - keyStart)
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: columns, k: depth, alpha: scale,
                               a: qBlock, lda: q.stride, b: k.head(head) + keyStart * k.stride, ldb: k.stride, c: scores, ldc: keyBlock)
                    for r in 0..<rows {
                        let row = scores + r * keyBlock
                        let limit = maskRow(row, head: head, query: start + r, keyStart: keyStart, columns: columns, padding: mask, terms: blockTerms)
                        let peak = Swift.max(runningMax[r], vectorMax(row, columns))
                        guard peak > -Float.infinity else {
                            row.update(repeating: 0, count: columns)
                            continue
                        }
                        let correction = runningMax[r] > -Float.infinity ? fastExp(runningMax[r] - peak) : 0
                        runningSum[r] = runningSum[r] * correction + exponentiateRow(row, columns, shift: peak)
                        if let weights = terms.mask {
                            let weightedSum = PostSoftmaxMaskRow.weigh(row, weights: weights(head: head, query: start + r) + keyStart, limit)
                            runningWeighted[r] = runningWeighted[r] * correction + weightedSum
                        }
                        runningMax[r] = peak
                        if correction != 1 { vectorScale(out + r * output.stride, correction, valueDepth) }
                    }
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: valueDepth, k: columns,
                               a: scores, lda: keyBlock, b: v.head(head) + keyStart * v.stride, ldb: v.stride,
                               beta: 1, c: out, ldc: output.stride)
                }
                for r in 0..<rows {
                    let total = runningSum[r]
                    let normalizer = terms.mask == nil ? total : runningWeighted[r] + PostSoftmaxMask.epsilon * total
                    if total > 0 { vectorScale(out + r * output.stride, 1 / normalizer, valueDepth) }
                    guard let statistics else { continue }
                    let index = head * queries + start + r
                    statistics.logSumExp[index] = total > 0 ? runningMax[r] + Foundation.log(total) : -.infinity
                    if let normalizers = statistics.normalizers { normalizers[index] = total > 0 ? normalizer / total : 1 }
                }
            }
        }
    }

    /// The backward pass, recomputing the probabilities block by block from the saved row
    /// statistics: for each key block j and each query block i that sees it,
    /// P = exp(scale·Q_i·K_jᵀ + terms − lse), dV_j += P′ᵀ·dO_i, dP′ = dO_i·V_jᵀ,
    /// dS = P ⊙ (dP − ⟨dP, P⟩) with ⟨dP′, P′⟩ = Dᵢ = rowsum(dO ∘ O) (through the mask when
    /// there is one), dQ_i += scale·dS·K_j and dK_j += scale·dSᵀ·Q_i: five BLAS products per
    /// block, against two forward.
    ///
    /// Threads take whole heads (b, h). Splitting a head's query blocks across threads would
    /// need a private dK and dV per thread (or atomic adds) and a reduction; splitting its
    /// key blocks would need a second pass for dQ (seven products per block instead of
    /// five). With B·H heads at least the thread count — the usual case (8 heads on 2 cores
    /// in the benchmark) — whole heads keep every thread busy with no extra memory or work,
    /// and the sums run in a fixed order, so results do not depend on scheduling.
    /// `gradientRows` receive the gradients of the score term and the mask. A factored term
    /// (``PositionTermBand``) is rebuilt per head before its blocks, one product per query block
    /// into a thread's Nq × (block + Nk) scratch, and its gradient, gathered in a second such
    /// scratch, goes back to the position queries and keys after them: two products per query block.
    func backward(q: HeadRows, k: HeadRows, v: HeadRows, output: HeadRows, outputGradient: HeadRows, statistics: AttentionRowStatistics,
                  scale: Float, padding: [[Float]]?, rows terms: DistanceRows, gradientRows: DistanceRows,
                  dq: HeadRows, dk: HeadRows, dv: HeadRows) {
        let block = blockRows
        parallelFor(batch * heads) { headRange in
            let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: block * block)
            let scoreGradient = UnsafeMutablePointer<Float>.allocate(capacity: block * block)
            let weighted = UnsafeMutablePointer<Float>.allocate(capacity: terms.mask == nil ? 0 : block * block)
            let outputInner = UnsafeMutablePointer<Float>.allocate(capacity: queries)
            // A factored term: every query block's band of the head and its gradient.
            let bandStride = PositionTermBand.stride(blockRows: block, keys: keys)
            let bands = UnsafeMutablePointer<Float>.allocate(capacity: terms.position == nil ? 0 : 2 * queries * bandStride)
            let bandGradients = bands + (terms.position == nil ? 0 : queries * bandStride)
            defer { probabilities.deallocate(); scoreGradient.deallocate(); weighted.deallocate(); outputInner.deallocate(); bands.deallocate() }
            for head in headRange {
                let (qHead, kHead, vHead) = (q.head(head), k.head(head), v.head(head))
                let (oHead, gHead) = (output.head(head), outputGradient.head(head))
                let (dqHead, dkHead, dvHead) = (dq.head(head), dk.head(head), dv.head(head))
                let lse = statistics.logSumExp + head * queries
                let normalizers = statistics.normalizers.map { $0 + head * queries }
                for i in 0..<queries {
                    outputInner[i] = vectorDot(oHead + i * output.stride, gHead + i * outputGradient.stride, valueDepth)
                }
                let mask = padding?[head / heads]
                if let position = terms.position {
                    for start in stride(from: 0, to: queries, by: block) {
                        let end = Swift.min(queries, start + block)
                        _ = position.fill(head: head, start: start, end: end, visibleKeys: visibleKeys(end: end),
                                          band: bands + start * bandStride, stride: bandStride)
                    }
                    bandGradients.update(repeating: 0, count: queries * bandStride)
                }
                for keyStart in stride(from: 0, to: keys, by: block) {
                    let keyEnd = Swift.min(keys, keyStart + block)
                    // Under causal masking, the first query that sees key keyStart is keyStart − M.
                    let firstQuery = causal ? Swift.max(0, keyStart - memory) / block * block : 0
                    for start in stride(from: firstQuery, to: queries, by: block) {
                        let end = Swift.min(queries, start + block), rows = end - start
                        let columns = Swift.min(keyEnd, visibleKeys(end: end)) - keyStart
                        guard columns > 0 else { continue }
                        var (blockTerms, blockGradients) = (terms, gradientRows)
                        if let position = terms.position {
                            blockTerms.scores = position.rows(band: bands + start * bandStride, start: start, end: end, stride: bandStride)
                            blockGradients.scores = position.rows(band: bandGradients + start * bandStride, start: start, end: end, stride: bandStride)
                        }
                        let (qBlock, gBlock) = (qHead + start * q.stride, gHead + start * outputGradient.stride)
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: columns, k: depth, alpha: scale,
                                   a: qBlock, lda: q.stride, b: kHead + keyStart * k.stride, ldb: k.stride, c: probabilities, ldc: block)
                        for r in 0..<rows {
                            let row = probabilities + r * block, query = start + r
                            let limit = maskRow(row, head: head, query: query, keyStart: keyStart, columns: columns, padding: mask, terms: blockTerms)
                            guard lse[query] > -Float.infinity else {
                                row.update(repeating: 0, count: columns)
                                if terms.mask != nil { (weighted + r * block).update(repeating: 0, count: columns) }
                                continue
                            }
                            exponentiateRow(row, columns, shift: lse[query])
                            if let weights = terms.mask, let normalizers {
                                PostSoftmaxMaskRow.weighted(probabilities: row, weights: weights(head: head, query: query) + keyStart,
                                                            normalizer: normalizers[query], into: weighted + r * block, limit)
                                (weighted + r * block + limit).update(repeating: 0, count: columns - limit)
                            }
                        }
                        // dV_j += P′ᵀ · dO_i
                        BLAS.sgemm(transposeA: true, transposeB: false, m: columns, n: valueDepth, k: rows,
                                   a: terms.mask == nil ? probabilities : weighted, lda: block, b: gBlock, ldb: outputGradient.stride,
                                   beta: 1, c: dvHead + keyStart * dv.stride, ldc: dv.stride)
                        // dP′ = dO_i · V_jᵀ, then dS row by row
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: columns, k: valueDepth,
                                   a: gBlock, lda: outputGradient.stride, b: vHead + keyStart * v.stride, ldb: v.stride,
                                   c: scoreGradient, ldc: block)
                        for r in 0..<rows {
                            let query = start + r, p = probabilities + r * block, dRow = scoreGradient + r * block
                            if let weights = terms.mask, let weightGradient = gradientRows.mask, let normalizers {
                                let limit = visibleColumns(query: query, keyStart: keyStart, columns: columns)
                                PostSoftmaxMaskRow.scoreGradient(probabilities: p, weights: weights(head: head, query: query) + keyStart,
                                                                 normalizer: normalizers[query], outputInner: outputInner[query], gradient: dRow,
                                                                 weightGradient: weightGradient(head: head, query: query) + keyStart, limit)
                                (dRow + limit).update(repeating: 0, count: columns - limit)
                            } else {
                                softmaxBackwardRow(y: p, dy: dRow, dx: dRow, columns, inner: outputInner[query])
                            }
                            if let termGradient = blockGradients.scores {
                                let limit = visibleColumns(query: query, keyStart: keyStart, columns: columns)
                                vectorAxpy(1, dRow, termGradient(head: head, query: query) + keyStart, limit)
                            }
                        }
                        // dQ_i += scale · dS · K_j ; dK_j += scale · dSᵀ · Q_i
                        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: depth, k: columns, alpha: scale,
                                   a: scoreGradient, lda: block, b: kHead + keyStart * k.stride, ldb: k.stride,
                                   beta: 1, c: dqHead + start * dq.stride, ldc: dq.stride)
                        BLAS.sgemm(transposeA: true, transposeB: false, m: columns, n: depth, k: rows, alpha: scale,
                                   a: scoreGradient, lda: block, b: qBlock, ldb: q.stride,
                                   beta: 1, c: dkHead + keyStart * dk.stride, ldc: dk.stride)
                    }
                }
                if let position = terms.position, let positionGradients = gradientRows.positionGradients {
                    for start in stride(from: 0, to: queries, by: block) {
                        let end = Swift.min(queries, start + block)
                        position.backpropagate(head: head, start: start, end: end, visibleKeys: visibleKeys(end: end),
                                               bandGradient: bandGradients + start * bandStride, stride: bandStride, into: positionGradients)
                    }
                }
            }
        }
    }
}

/// Per query row statistics the forward keeps for the backward: B·H·Nq log-sum-exps of the
/// scores and, under a post-softmax mask, the B·H·Nq row normalizers s = Σ p·w + ε.
struct AttentionRowStatistics: @unchecked Sendable {
    let logSumExp: UnsafeMutablePointer<Float>
    let normalizers: UnsafeMutablePointer<Float>?
}
