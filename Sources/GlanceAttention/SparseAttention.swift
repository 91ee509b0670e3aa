import GlanceCore

/// Which keys each query of a sequence attends to, as compact index lists: by query (the
/// forward pass and the query gradients) and transposed, by key (the key and value gradients,
/// so that no two workers add into the same row). Memory O(entries), never n × n.
public final class SparseAttentionIndex: @unchecked Sendable {
    /// Number of positions (queries = keys).
    public let length: Int
    /// Total number of (query, key) pairs.
    public let entryCount: Int
    /// Most keys of any one query.
    public let longestRow: Int
    /// Entries of query i: `queryStarts[i] ..< queryStarts[i + 1]`; `keys[e]` is the key of entry e.
    let queryStarts: UnsafeMutablePointer<Int32>
    let keys: UnsafeMutablePointer<Int32>
    /// Entries of key j, grouped by key: `keyStarts[j] ..< keyStarts[j + 1]` index
    /// `entriesByKey` (the entry e in query order) and `queriesByKey` (its query).
    let keyStarts: UnsafeMutablePointer<Int32>
    let entriesByKey: UnsafeMutablePointer<Int32>
    let queriesByKey: UnsafeMutablePointer<Int32>

    /// Lists from `keysOfQuery(i)`: ascending, distinct keys in 0..<length for each query i.
    public init(length: Int, keysOfQuery: (Int) -> [Int]) {
        precondition(length >= 1 && length < Int(Int32.max), "sparse attention needs 1 ≤ length < 2³¹, got \(length)")
        self.length = length
        var starts = [Int32](repeating: 0, count: length + 1)
        var flat: [Int32] = []
        var perKey = [Int32](repeating: 0, count: length + 1)
        var longest = 0
        for query in 0..<length {
            let row = keysOfQuery(query)
            var previous = -1
            for key in row {
                precondition(key > previous && key < length, "keys of query \(query) must be ascending and distinct in 0..<\(length), got \(row)")
                previous = key
                flat.append(Int32(key))
                perKey[key + 1] += 1
            }
            longest = Swift.max(longest, row.count)
            precondition(flat.count < Int(Int32.max), "more than 2³¹ (query, key) pairs at length \(length)")
            starts[query + 1] = Int32(flat.count)
        }
        entryCount = flat.count
        longestRow = longest
        for key in 0..<length { perKey[key + 1] += perKey[key] }
        queryStarts = .allocate(capacity: length + 1)
        queryStarts.initialize(from: starts, count: length + 1)
        keys = .allocate(capacity: Swift.max(1, entryCount))
        keys.initialize(from: flat, count: entryCount)
        keyStarts = .allocate(capacity: length + 1)
        keyStarts.initialize(from: perKey, count: length + 1)
        entriesByKey = .allocate(capacity: Swift.max(1, entryCount))
        queriesByKey = .allocate(capacity: Swift.max(1, entryCount))
        var next = perKey
        for query in 0..<length {
            for entry in Int(starts[query])..<Int(starts[query + 1]) {
                let key = Int(flat[entry]), slot = Int(next[key])
                entriesByKey[slot] = Int32(entry)
                queriesByKey[slot] = Int32(query)
                next[key] += 1
            }
        }
    }

    deinit {
        for pointer in [queryStarts, keys, keyStarts, entriesByKey, queriesByKey] { pointer.deallocate() }
    }

    /// The keys of query `query`, ascending.
    public func keys(ofQuery query: Int) -> [Int] {
        precondition(query >= 0 && query < length, "query \(query) out of 0..<\(length)")
        return (Int(queryStarts[query])..<Int(queryStarts[query + 1])).map { Int(keys[$0]) }
    }
}

/// Softmax attention restricted to index lists: out_i = Σ_{j ∈ keys(i)} softmax_j(q_i·k_j·scale) v_j
/// for q, k [B, H, n, D] and v [B, H, n, Dv], with a gather-based forward and a hand-written
/// backward, O(B·H·entries·(D + Dv)) time and O(B·H·entries) memory for the probabilities kept
/// for the backward pass (none without recording). `keyPadding[b][j] == false` hides key j of
/// batch entry b; a query that sees no key gets zeros. `scale` defaults to 1/√D.
public func sparseAttention(queries q: Tensor, keys k: Tensor, values v: Tensor, index: SparseAttentionIndex,
                            keyPadding: [[Bool]]? = nil, scale: Float? = nil) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention expects [B, H, N, D] tensors, got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, heads, length, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let valueDepth = v.shape[3]
    precondition(k.shape == q.shape && v.shape == [batch, heads, length, valueDepth],
                 "attention shapes disagree: q \(q.shape), k \(k.shape), v \(v.shape)")
    let kernel = SparseAttentionKernel(batch: batch, heads: heads, depth: depth, valueDepth: valueDepth, headsFirst: true,
                                       index: index, scale: scale, keyPadding: keyPadding)
    return kernel.attention(q, k, v, outputShape: [batch, heads, length, valueDepth])
}

/// ``sparseAttention(queries:keys:values:index:keyPadding:scale:)`` on the layout of the
/// projections, q, k [B, n, H·D] and v [B, n, H·Dv] → [B, n, H·Dv], so that a layer needs no
/// copies to split and merge its heads.
public func sparseAttention(queries q: Tensor, keys k: Tensor, values v: Tensor, heads: Int, index: SparseAttentionIndex,
                            keyPadding: [[Bool]]? = nil, scale: Float? = nil) -> Tensor {
    precondition(q.rank == 3 && k.shape == q.shape && v.rank == 3 && v.shape.prefix(2) == q.shape.prefix(2),
                 "attention expects q, k [B, N, H·D] and v [B, N, H·Dv], got \(q.shape), \(k.shape), \(v.shape)")
    precondition(heads >= 1 && q.shape[2] % heads == 0 && v.shape[2] % heads == 0,
                 "widths \(q.shape[2]) and \(v.shape[2]) do not split into \(heads) heads")
    let kernel = SparseAttentionKernel(batch: q.shape[0], heads: heads, depth: q.shape[2] / heads, valueDepth: v.shape[2] / heads,
                                       headsFirst: false, index: index, scale: scale, keyPadding: keyPadding)
    return kernel.attention(q, k, v, outputShape: v.shape)
}

/// Sizes and loops of the sparse attention kernel. Work is split over (batch · head, block of
/// positions); each worker writes only its own rows.
struct SparseAttentionKernel: Sendable {
    let batch, heads, depth, valueDepth: Int
    /// Layout of q, k, v and the output: [B, H, n, width] when true, [B, n, H, width] otherwise.
    let headsFirst: Bool
    let index: SparseAttentionIndex
    let scale: Float
    /// Per batch entry and key: whether padding hides it (nil: no padding).
    let hidden: [Bool]?

    init(batch: Int, heads: Int, depth: Int, valueDepth: Int, headsFirst: Bool, index: SparseAttentionIndex,
         scale: Float?, keyPadding: [[Bool]]?) {
        precondition(batch >= 1 && depth >= 1 && valueDepth >= 1, "attention needs a batch and non-empty heads")
        if let keyPadding {
            precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == index.length },
                         "key padding mask must be \(batch) × \(index.length)")
        }
        (self.batch, self.heads, self.depth, self.valueDepth, self.headsFirst) = (batch, heads, depth, valueDepth, headsFirst)
        self.index = index
        self.scale = scale ?? 1 / Float(depth).squareRoot()
        hidden = keyPadding.map { rows in rows.flatMap { row in row.map { !$0 } } }
    }

    var length: Int { index.length }

    /// Offset of the row of `position` in (batch · head) slice `slice`, for rows of `width`.
    @inline(__always) func row(_ slice: Int, _ position: Int, width: Int) -> Int {
        headsFirst ? (slice * length + position) * width
                   : (((slice / heads) * length + position) * heads + slice % heads) * width
    }

    /// The attention of q, k, v (in the kernel's layout), recorded for gradients when needed.
    func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, outputShape: [Int]) -> Tensor {
        precondition(q.count == batch * heads * length * depth && v.count == batch * heads * length * valueDepth,
                     "sequence of \(q.count / Swift.max(1, batch * heads * depth)) positions with index lists for \(length)")
        let recording = GradientMode.isRecording && (q.requiresGradient || k.requiresGradient || v.requiresGradient)
        let probabilities = TensorStorage(count: recording ? batch * heads * index.entryCount : 0)
        let output = Tensor(shape: outputShape) { out in
            q.withUnsafeBufferPointer { qb in
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        forward(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!,
                                probabilities: recording ? probabilities.pointer : nil, output: out.baseAddress!)
                    }
                }
            }
        }
        guard recording else { return output }
        let (qd, kd, vd) = (q.detached(), k.detached(), v.detached())
        return output.recorded(from: [q, k, v]) { g in
            attentionGradients(q: qd, k: kd, v: vd, outputGradient: g) { b in
                backward(q: b.q, k: b.k, v: b.v, probabilities: probabilities.pointer, outputGradient: b.outputGradient,
                         dq: b.dq, dk: b.dk, dv: b.dv)
            }
        }
    }

    /// Positions per task: enough work per task, and several tasks per head for balance.
    var blockRows: Int { 256 }
    var blocksPerHead: Int { (length + blockRows - 1) / blockRows }

    /// Runs `body(slice, positions)` over every (batch · head) slice and block of positions.
    func forEachBlock(_ body: (_ slice: Int, _ positions: Range<Int>) -> Void) {
        let blocks = blocksPerHead, rows = blockRows, length = self.length
        parallelFor(batch * heads * blocks) { tasks in
            for task in tasks {
                let start = (task % blocks) * rows
                body(task / blocks, start..<Swift.min(length, start + rows))
            }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 probabilities: UnsafeMutablePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, po) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(output))
        let kept = probabilities.map(SendablePointer.init)
        let (n, d, dv, entries, index, scale) = (length, depth, valueDepth, index.entryCount, index, scale)
        forEachBlock { slice, positions in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, index.longestRow))
            defer { scratch.deallocate() }
            let hidden = self.hidden, paddingRow = (slice / heads) * n
            for i in positions {
                let first = Int(index.queryStarts[i]), count = Int(index.queryStarts[i + 1]) - first
                let weights = kept.map { $0.base + slice * entries + first } ?? scratch
                let qi = pq.base + row(slice, i, width: d)
                for e in 0..<count {
                    let j = Int(index.keys[first + e])
                    if let hidden, hidden[paddingRow + j] {
                        weights[e] = -.infinity
                    } else {
                        weights[e] = scale * vectorDot(qi, pk.base + row(slice, j, width: d), d)
                    }
                }
                softmaxRowInPlace(weights, count)
                let out = po.base + row(slice, i, width: dv)
                out.update(repeating: 0, count: dv)
                for e in 0..<count where weights[e] != 0 {
                    vectorAxpy(weights[e], pv.base + row(slice, Int(index.keys[first + e]), width: dv), out, dv)
                }
            }
        }
    }

    /// With P the kept probabilities and g the output gradient: dS = scale · P ⊙ (g·vᵀ − ⟨g·vᵀ, P⟩)
    /// per query, dq_i = Σ dS k_j; then per key, from the transposed lists,
    /// dk_j = Σ_i dS q_i and dv_j = Σ_i P g_i.
    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  probabilities: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let (pq, pk, pv, pp, pg) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(probabilities),
                                    SendablePointer(outputGradient))
        let (pdq, pdk, pdv) = (SendablePointer(dq), SendablePointer(dk), SendablePointer(dv))
        let (d, valueDepth, entries, index, scale) = (depth, self.valueDepth, index.entryCount, index, scale)
        let scoreGradients = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, batch * heads * entries))
        defer { scoreGradients.deallocate() }
        let pds = SendablePointer(scoreGradients)
        forEachBlock { slice, positions in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, index.longestRow))
            defer { scratch.deallocate() }
            for i in positions {
                let first = Int(index.queryStarts[i]), count = Int(index.queryStarts[i + 1]) - first
                let p = pp.base + slice * entries + first, ds = pds.base + slice * entries + first
                let gi = pg.base + row(slice, i, width: valueDepth)
                for e in 0..<count {
                    scratch[e] = vectorDot(gi, pv.base + row(slice, Int(index.keys[first + e]), width: valueDepth), valueDepth)
                }
                softmaxBackwardRow(y: p, dy: scratch, dx: ds, count)
                let dqi = pdq.base + row(slice, i, width: d)
                for e in 0..<count where ds[e] != 0 {
                    ds[e] *= scale
                    vectorAxpy(ds[e], pk.base + row(slice, Int(index.keys[first + e]), width: d), dqi, d)
                }
            }
        }
        forEachBlock { slice, positions in
            let p = pp.base + slice * entries, ds = pds.base + slice * entries
            for j in positions {
                let dkj = pdk.base + row(slice, j, width: d), dvj = pdv.base + row(slice, j, width: valueDepth)
                for slot in Int(index.keyStarts[j])..<Int(index.keyStarts[j + 1]) {
                    let e = Int(index.entriesByKey[slot]), i = Int(index.queriesByKey[slot])
                    if ds[e] != 0 { vectorAxpy(ds[e], pq.base + row(slice, i, width: d), dkj, d) }
                    if p[e] != 0 { vectorAxpy(p[e], pg.base + row(slice, i, width: valueDepth), dvj, valueDepth) }
                }
            }
        }
    }
}
