import GlanceCore

/// Longformer's attention core (Beltagy et al. 2020): sliding-window attention with dilation,
/// plus global keys, for queries, keys and values [batch, n, heads·d] (heads side by side,
/// as the projections produce them); returns [batch, n, heads·d].
///
/// Query i of head h (dilation δ = `dilation[h]`, one-sided window w) attends to
/// - the keys j = i + δ·c for c in −w…w (c in −w…0 when `causal`) with 0 ≤ j < n: the band;
/// - every position in `globalPositions[b]`, the global keys, which are therefore left out of
///   the band so that each key counts once;
/// and softmax runs over all of them together. Keys with `keyPadding[b][j] == false` are
/// hidden. Rows of padded queries and of global queries give zeros and get no gradient: a
/// global token's output comes from its own global attention (see ``Longformer``). This is
/// what Hugging Face `LongformerSelfAttention` computes for its local part, but at any n,
/// with exact edges instead of padding to a multiple of the window.
///
/// Time and memory are O(n·(w + g)) for g global keys; nothing n×n is formed. Queries go
/// in blocks of rows: one BLAS product against the keys the block can see (the band of the
/// block is at most rows + 2w keys wide) and one against the global keys, the masked softmax
/// in place, and two products with the values. A head with dilation δ is δ interleaved
/// sequences (positions ≡ r mod δ), each an undilated band, read in place through BLAS's
/// leading dimension. When gradients are recorded the band probabilities are kept
/// (n × (g + rows + 2w) per head) for the hand-written backward.
public func slidingWindowAttention(queries q: Tensor, keys k: Tensor, values v: Tensor, heads: Int, window: Int,
                                   dilation: [Int]? = nil, causal: Bool = false, keyPadding: [[Bool]]? = nil,
                                   globalPositions: [[Int]]? = nil, scale: Float? = nil) -> Tensor {
    precondition(q.rank == 3 && k.shape == q.shape && v.shape == q.shape,
                 "sliding-window attention expects q, k, v of one shape [batch, n, heads·d], got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, length, channels) = (q.shape[0], q.shape[1], q.shape[2])
    precondition(heads >= 1 && channels % heads == 0, "\(channels) channels do not split into \(heads) heads")
    precondition(window >= 0, "the one-sided window must be non-negative, got \(window)")
    let dilation = dilation ?? [1]
    precondition(dilation.count == 1 || dilation.count == heads, "dilation needs 1 or \(heads) values (one per head), got \(dilation.count)")
    precondition(dilation.allSatisfy { $0 >= 1 }, "dilation must be at least 1, got \(dilation)")
    if let keyPadding {
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == length }, "key padding mask must be \(batch) × \(length)")
    }
    if let globalPositions {
        precondition(!causal, "global attention is not causal: a causal layer cannot have global tokens")
        precondition(globalPositions.count == batch, "global positions must be given for each of the \(batch) batch entries")
        for (b, positions) in globalPositions.enumerated() {
            precondition(positions.allSatisfy { $0 >= 0 && $0 < length }, "global position out of range 0..<\(length) in batch entry \(b): \(positions)")
            precondition(Set(positions).count == positions.count, "repeated global position in batch entry \(b): \(positions)")
        }
    }
    let geometry = SlidingWindowGeometry(batch: batch, length: length, heads: heads, channels: channels,
                                         window: window, dilation: dilation.count == 1 ? Array(repeating: dilation[0], count: heads) : dilation,
                                         causal: causal, scale: scale ?? 1 / Float(channels / heads).squareRoot(),
                                         keyPadding: keyPadding, globalPositions: globalPositions)
    // The global keys and values, gathered once: [batch, g, channels].
    let globalKeys = geometry.gatherGlobal(k), globalValues = geometry.gatherGlobal(v)
    let recording = GradientMode.isRecording && (q.requiresGradient || k.requiresGradient || v.requiresGradient)
    let probabilities = TensorStorage(count: recording ? batch * heads * length * geometry.rowWidth : 0)
    let output = Tensor(shape: q.shape) { out in
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    geometry.forward(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!,
                                     globalKeys: globalKeys, globalValues: globalValues,
                                     probabilities: recording ? probabilities.pointer : nil, output: out.baseAddress!)
                }
            }
        }
    }
    guard recording else { return output }
    let (qd, kd, vd) = (q.detached(), k.detached(), v.detached())
    return output.recorded(from: [q, k, v]) { g in
        var dGlobalKeys = [Float](repeating: 0, count: globalKeys.count), dGlobalValues = [Float](repeating: 0, count: globalValues.count)
        return attentionGradients(q: qd, k: kd, v: vd, outputGradient: g) { b in
            dGlobalKeys.withUnsafeMutableBufferPointer { dgk in
                dGlobalValues.withUnsafeMutableBufferPointer { dgv in
                    geometry.backward(q: b.q, k: b.k, v: b.v, globalKeys: globalKeys, globalValues: globalValues,
                                      probabilities: probabilities.pointer, outputGradient: b.outputGradient,
                                      dq: b.dq, dk: b.dk, dv: b.dv, dGlobalKeys: dgk.baseAddress, dGlobalValues: dgv.baseAddress)
                }
            }
            geometry.scatterGlobal(dGlobalKeys, into: b.dk)
            geometry.scatterGlobal(dGlobalValues, into: b.dv)
        }
    }
}

/// Sizes, masks and loops of the sliding-window kernel.
struct SlidingWindowGeometry: Sendable {
    let batch, length, heads, channels, depth: Int
    /// One-sided window, clipped to the length.
    let window: Int
    let dilation: [Int]
    let causal: Bool
    let scale: Float
    /// Query rows per block.
    let blockRows: Int
    /// Most global keys of any batch entry (g).
    let globalCount: Int
    /// Global positions of each batch entry, `globalCount` slots each (unused slots hold 0).
    let globalIndices: [Int]
    let globalCounts: [Int]
    /// Per batch entry and key position: 0, or −∞ for keys left out of the band (padding, global).
    let bandMask: [Float]?
    /// Per batch entry and query position: whether the row is skipped (padding, global).
    let skipped: [Bool]?
    /// Columns of one row of kept probabilities: g global keys, then the widest band of a block.
    let rowWidth: Int

    init(batch: Int, length: Int, heads: Int, channels: Int, window: Int, dilation: [Int], causal: Bool, scale: Float,
         keyPadding: [[Bool]]?, globalPositions: [[Int]]?) {
        self.batch = batch
        self.length = length
        self.heads = heads
        self.channels = channels
        depth = channels / heads
        self.window = Swift.min(window, length)
        self.dilation = dilation
        self.causal = causal
        self.scale = scale
        blockRows = Self.blockRows(window: self.window, causal: causal)
        // A padded position is hidden as a key even when marked global.
        let positions = (globalPositions ?? Array(repeating: [], count: batch)).enumerated().map { b, row in
            keyPadding.map { padding in row.filter { padding[b][$0] } } ?? row
        }
        globalCounts = positions.map(\.count)
        globalCount = globalCounts.max() ?? 0
        var indices = [Int](repeating: 0, count: batch * globalCount)
        for b in 0..<batch { for (s, p) in positions[b].enumerated() { indices[b * globalCount + s] = p } }
        globalIndices = indices
        if keyPadding != nil || globalCount > 0 {
            var mask = [Float](repeating: 0, count: batch * length)
            var skip = [Bool](repeating: false, count: batch * length)
            for b in 0..<batch {
                if let row = keyPadding?[b] {
                    for j in 0..<length where !row[j] { mask[b * length + j] = -.infinity; skip[b * length + j] = true }
                }
                for p in positions[b] { mask[b * length + p] = -.infinity; skip[b * length + p] = true }
            }
            bandMask = mask
            skipped = skip
        } else {
            bandMask = nil
            skipped = nil
        }
        let bandCapacity = Swift.min(length, blockRows + (causal ? self.window : 2 * self.window))
        rowWidth = globalCount + bandCapacity
    }

    /// Rows per block: 64 amortizes BLAS's packing of the keys while a block's band stays
    /// close to the 2w + 1 keys each row needs (rows + 2w columns are computed); small
    /// windows use smaller blocks to waste less. At n = 4,096, w = 256 on the 2-core test
    /// machine, 32 to 128 rows gave the same time within noise (products of 64 × 576 × 64
    /// run at about 60 GFLOP/s on one core, 192 rows and more are slower).
    static func blockRows(window: Int, causal: Bool) -> Int {
        let reach = causal ? window : 2 * window
        return Swift.max(16, Swift.min(64, reach))
    }

    /// Length of the sequence of positions ≡ r (mod δ).
    func rows(residue r: Int, dilation δ: Int) -> Int { r < length ? (length - r + δ - 1) / δ : 0 }

    /// One block of query rows of one (batch entry, head, residue).
    struct Block {
        let head: Int  // b·heads + h
        let residue: Int
        let start: Int
    }

    func blocks(ofHead head: Int) -> [Block] {
        let δ = dilation[head % heads]
        var result: [Block] = []
        for r in 0..<Swift.min(δ, length) {
            for start in stride(from: 0, to: rows(residue: r, dilation: δ), by: blockRows) { result.append(Block(head: head, residue: r, start: start)) }
        }
        return result
    }

    /// Rows of `x` [batch, n, channels] at the global positions: [batch, g, channels] (unused slots zero).
    func gatherGlobal(_ x: Tensor) -> [Float] {
        guard globalCount > 0 else { return [] }
        var result = [Float](repeating: 0, count: batch * globalCount * channels)
        x.withUnsafeBufferPointer { xb in
            for b in 0..<batch {
                for s in 0..<globalCounts[b] {
                    let source = xb.baseAddress! + (b * length + globalIndices[b * globalCount + s]) * channels
                    for c in 0..<channels { result[(b * globalCount + s) * channels + c] = source[c] }
                }
            }
        }
        return result
    }

    /// Adds the rows of `gathered` [batch, g, channels] back into `x` at the global positions.
    func scatterGlobal(_ gathered: [Float], into x: UnsafeMutablePointer<Float>) {
        guard globalCount > 0 else { return }
        gathered.withUnsafeBufferPointer { source in
            for b in 0..<batch {
                for s in 0..<globalCounts[b] {
                    vectorAxpy(1, source.baseAddress! + (b * globalCount + s) * channels,
                               x + (b * length + globalIndices[b * globalCount + s]) * channels, channels)
                }
            }
        }
    }

    /// Where one block's rows and keys lie.
    struct BlockExtent {
        let batch, head, dilation, residue, start, rows: Int
        /// Rows of the residue's sequence.
        let count: Int
        /// Band keys [keyStart, keyStart + span) of the residue's sequence.
        let keyStart, span: Int
        /// Offset (in floats) of row `start` in a [batch, n, channels] tensor, head columns included.
        let rowOffset, keyOffset: Int
        /// Distance between consecutive rows of the sequence, δ·channels.
        let rowStride: Int
        /// Global keys of this batch entry.
        let globals: Int
    }

    func extent(_ block: Block) -> BlockExtent {
        let b = block.head / heads, h = block.head % heads, δ = dilation[h], r = block.residue
        let count = rows(residue: r, dilation: δ)
        let end = Swift.min(count, block.start + blockRows)
        let keyStart = Swift.max(0, block.start - window)
        let keyEnd = causal ? end : Swift.min(count, end + window)
        return BlockExtent(batch: b, head: h, dilation: δ, residue: r, start: block.start, rows: end - block.start, count: count,
                           keyStart: keyStart, span: keyEnd - keyStart,
                           rowOffset: (b * length + r + δ * block.start) * channels + h * depth,
                           keyOffset: (b * length + r + δ * keyStart) * channels + h * depth,
                           rowStride: δ * channels, globals: globalCounts[b])
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 globalKeys: [Float], globalValues: [Float], probabilities: UnsafeMutablePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let allBlocks = (0..<(batch * heads)).flatMap { self.blocks(ofHead: $0) }
        let (pq, pk, pv, po) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(output))
        let pp = probabilities.map { SendablePointer($0) }
        globalKeys.withUnsafeBufferPointer { gk in
            globalValues.withUnsafeBufferPointer { gv in
                let (pgk, pgv) = (gk.baseAddress.map { SendablePointer($0) }, gv.baseAddress.map { SendablePointer($0) })
                bandMask.withUnsafeBufferPointerIfPresent { mask in
                    skipped.withUnsafeBufferPointerIfPresent { skip in
                        parallelFor(allBlocks.count) { range in
                            let scratch = pp == nil ? UnsafeMutablePointer<Float>.allocate(capacity: blockRows * rowWidth) : nil
                            defer { scratch?.deallocate() }
                            for index in range {
                                let e = extent(allBlocks[index])
                                let (scores, ld): (UnsafeMutablePointer<Float>, Int)
                                if let pp {
                                    scores = pp.base + ((e.batch * heads + e.head) * length + e.residue + e.dilation * e.start) * rowWidth
                                    ld = e.dilation * rowWidth
                                } else {
                                    (scores, ld) = (scratch!, rowWidth)
                                }
                                forwardBlock(e, q: pq.base, k: pk.base, v: pv.base, globalKeys: pgk?.base, globalValues: pgv?.base,
                                             mask: mask, skip: skip, scores: scores, ld: ld, output: po.base)
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    func forwardBlock(_ e: BlockExtent, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                      globalKeys: UnsafeMutablePointer<Float>?, globalValues: UnsafeMutablePointer<Float>?,
                      mask: UnsafeBufferPointer<Float>?, skip: UnsafeBufferPointer<Bool>?,
                      scores: UnsafeMutablePointer<Float>, ld: Int, output: UnsafeMutablePointer<Float>) {
        let g = e.globals, band = scores + globalCount
        let globalOffset = e.batch * globalCount * channels + e.head * depth
        if g > 0 {
            BLAS.sgemm(transposeA: false, transposeB: true, m: e.rows, n: g, k: depth, alpha: scale,
                       a: q + e.rowOffset, lda: e.rowStride, b: globalKeys! + globalOffset, ldb: channels, c: scores, ldc: ld)
        }
        BLAS.sgemm(transposeA: false, transposeB: true, m: e.rows, n: e.span, k: depth, alpha: scale,
                   a: q + e.rowOffset, lda: e.rowStride, b: k + e.keyOffset, ldb: e.rowStride, c: band, ldc: ld)
        let maskBase = e.batch * length + e.residue
        for t in 0..<e.rows {
            let a = e.start + t
            let row = scores + t * ld, bandRow = band + t * ld
            if let skip, skip[maskBase + e.dilation * a] {
                row.update(repeating: 0, count: globalCount + e.span)
                continue
            }
            let low = Swift.max(e.keyStart, a - window) - e.keyStart
            let high = (causal ? a : Swift.min(e.count - 1, a + window)) - e.keyStart
            let width = high - low + 1
            if let mask {
                for j in low...high { bandRow[j] += mask[maskBase + e.dilation * (e.keyStart + j)] }
            }
            var peak = vectorMax(bandRow + low, width)
            if g > 0 { peak = Swift.max(peak, vectorMax(row, g)) }
            var total = exponentiateRow(bandRow + low, width, shift: peak)
            if g > 0 { total += exponentiateRow(row, g, shift: peak) }
            let inverse = 1 / total
            vectorScale(bandRow + low, inverse, width)
            if g > 0 { vectorScale(row, inverse, g) }
            if low > 0 { bandRow.update(repeating: 0, count: low) }
            if high + 1 < e.span { (bandRow + high + 1).update(repeating: 0, count: e.span - high - 1) }
        }
        BLAS.sgemm(transposeA: false, transposeB: false, m: e.rows, n: depth, k: e.span,
                   a: band, lda: ld, b: v + e.keyOffset, ldb: e.rowStride, c: output + e.rowOffset, ldc: e.rowStride)
        if g > 0 {
            BLAS.sgemm(transposeA: false, transposeB: false, m: e.rows, n: depth, k: g,
                       a: scores, lda: ld, b: globalValues! + globalOffset, ldb: channels, beta: 1, c: output + e.rowOffset, ldc: e.rowStride)
        }
    }

    /// Gradients of q, k, v (and of the gathered global keys and values), accumulated into
    /// zeroed buffers. Heads are independent and go to different workers; within a head,
    /// blocks run in order because their bands overlap.
    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  globalKeys: [Float], globalValues: [Float], probabilities: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                  dGlobalKeys: UnsafeMutablePointer<Float>?, dGlobalValues: UnsafeMutablePointer<Float>?) {
        let (pq, pk, pv, pp, pg) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(probabilities), SendablePointer(outputGradient))
        let (pdq, pdk, pdv) = (SendablePointer(dq), SendablePointer(dk), SendablePointer(dv))
        let (pdgk, pdgv) = (dGlobalKeys.map { SendablePointer($0) }, dGlobalValues.map { SendablePointer($0) })
        globalKeys.withUnsafeBufferPointer { gk in
            globalValues.withUnsafeBufferPointer { gv in
                let (pgk, pgv) = (gk.baseAddress.map { SendablePointer($0) }, gv.baseAddress.map { SendablePointer($0) })
                parallelFor(batch * heads) { headRange in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * rowWidth)
                    defer { scratch.deallocate() }
                    for head in headRange {
                        for block in blocks(ofHead: head) {
                            let e = extent(block)
                            let p = pp.base + ((e.batch * heads + e.head) * length + e.residue + e.dilation * e.start) * rowWidth
                            let ld = e.dilation * rowWidth
                            let g = e.globals, globalOffset = e.batch * globalCount * channels + e.head * depth
                            let gBlock = pg.base + e.rowOffset, qBlock = pq.base + e.rowOffset
                            let band = p + globalCount, dBand = scratch + globalCount
                            // dV += Pᵀ · dO (band and global keys)
                            BLAS.sgemm(transposeA: true, transposeB: false, m: e.span, n: depth, k: e.rows,
                                       a: band, lda: ld, b: gBlock, ldb: e.rowStride, beta: 1, c: pdv.base + e.keyOffset, ldc: e.rowStride)
                            // dP = dO · Vᵀ
                            BLAS.sgemm(transposeA: false, transposeB: true, m: e.rows, n: e.span, k: depth,
                                       a: gBlock, lda: e.rowStride, b: pv.base + e.keyOffset, ldb: e.rowStride, c: dBand, ldc: rowWidth)
                            if g > 0 {
                                BLAS.sgemm(transposeA: true, transposeB: false, m: g, n: depth, k: e.rows,
                                           a: p, lda: ld, b: gBlock, ldb: e.rowStride, beta: 1, c: pdgv!.base + globalOffset, ldc: channels)
                                BLAS.sgemm(transposeA: false, transposeB: true, m: e.rows, n: g, k: depth,
                                           a: gBlock, lda: e.rowStride, b: pgv!.base + globalOffset, ldb: channels, c: scratch, ldc: rowWidth)
                            }
                            // dS = P ⊙ (dP − ⟨dP, P⟩) over the row's global and band columns
                            for t in 0..<e.rows {
                                let pRow = p + t * ld, dRow = scratch + t * rowWidth
                                let inner = (g > 0 ? vectorDot(pRow, dRow, g) : 0) + vectorDot(pRow + globalCount, dRow + globalCount, e.span)
                                if g > 0 { softmaxBackwardRow(y: pRow, dy: dRow, dx: dRow, g, inner: inner) }
                                softmaxBackwardRow(y: pRow + globalCount, dy: dRow + globalCount, dx: dRow + globalCount, e.span, inner: inner)
                            }
                            // dQ = scale · dS · K ; dK += scale · dSᵀ · Q
                            BLAS.sgemm(transposeA: false, transposeB: false, m: e.rows, n: depth, k: e.span, alpha: scale,
                                       a: dBand, lda: rowWidth, b: pk.base + e.keyOffset, ldb: e.rowStride, c: pdq.base + e.rowOffset, ldc: e.rowStride)
                            BLAS.sgemm(transposeA: true, transposeB: false, m: e.span, n: depth, k: e.rows, alpha: scale,
                                       a: dBand, lda: rowWidth, b: qBlock, ldb: e.rowStride, beta: 1, c: pdk.base + e.keyOffset, ldc: e.rowStride)
                            if g > 0 {
                                BLAS.sgemm(transposeA: false, transposeB: false, m: e.rows, n: depth, k: g, alpha: scale,
                                           a: scratch, lda: rowWidth, b: pgk!.base + globalOffset, ldb: channels, beta: 1,
                                           c: pdq.base + e.rowOffset, ldc: e.rowStride)
                                BLAS.sgemm(transposeA: true, transposeB: false, m: g, n: depth, k: e.rows, alpha: scale,
                                           a: scratch, lda: rowWidth, b: qBlock, ldb: e.rowStride, beta: 1, c: pdgk!.base + globalOffset, ldc: channels)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dx = y ⊙ (dy − inner) for one segment of a softmax row whose ⟨dy, y⟩ over the whole row is `inner`.
@inline(__always)
func softmaxBackwardRow(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, _ count: Int, inner: Float) {
    let dot = FloatVector(repeating: inner)
    var i = 0
    while i + 16 <= count {
        storeVector(loadVector(y + i) * (loadVector(dy + i) - dot), dx + i)
        i += 16
    }
    while i < count { dx[i] = y[i] * (dy[i] - inner); i += 1 }
}

extension Optional {
    /// Calls `body` with a buffer pointer to the wrapped array, or with nil.
    func withUnsafeBufferPointerIfPresent<Element, R>(_ body: (UnsafeBufferPointer<Element>?) throws -> R) rethrows -> R where Wrapped == [Element] {
        if let array = self { return try array.withUnsafeBufferPointer { try body($0) } }
        return try body(nil)
    }
}
