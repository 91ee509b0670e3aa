import GlanceCore

/// A distance-indexed tensor (a ``RelativeScoreTerm``, a ``PostSoftmaxMask`` or their
/// gradients) as the exact attention kernel reads it.
///
/// The queries are the last Nq of the Nk key positions: query i sits at position M + i
/// (M = Nk − Nq, the memory), so its distance to key j is M + i − j, stored in column
/// `largestDistance − (M + i − j)`. Along one query's keys those columns are consecutive:
/// ``callAsFunction(head:query:)`` returns a pointer whose element j belongs to key j. This
/// is Transformer-XL's relative shift done as an offset, with no shifted matrix in memory.
struct DistanceIndexedRows: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    /// H: a tensor shared by the batch entries is indexed by head alone.
    let heads: Int
    let sharedAcrossBatch: Bool
    /// Elements per head, and per query (0 when a row does not depend on the query).
    let headStride: Int
    let queryStride: Int
    /// The column of key 0 for query 0: largestDistance − M.
    let firstColumn: Int

    /// Rows of `columns` entries per (head, query) of a [B or 1, H, Nq, columns] tensor.
    init(perQuery base: UnsafeMutablePointer<Float>, batch: Int, geometry: AttentionGeometry, columns: Int, largestDistance: Int) {
        self.init(base: base, heads: geometry.heads, sharedAcrossBatch: batch == 1,
                  headStride: geometry.queries * columns, queryStride: columns, firstColumn: largestDistance - geometry.memory)
    }

    /// One row of `columns` entries per head of an [H, columns] tensor (per batch entry and
    /// head of a [B, H, columns] one when `perBatchEntry`).
    init(perHead base: UnsafeMutablePointer<Float>, perBatchEntry: Bool, geometry: AttentionGeometry, columns: Int, largestDistance: Int) {
        self.init(base: base, heads: geometry.heads, sharedAcrossBatch: !perBatchEntry,
                  headStride: columns, queryStride: 0, firstColumn: largestDistance - geometry.memory)
    }

    /// The band of a block of queries `firstQuery` … `lastQuery` (``PositionTermBand``): row i
    /// at `band + (i − firstQuery)·stride`, element j for key j at offset lastQuery − i + j.
    init(band: UnsafeMutablePointer<Float>, firstQuery: Int, lastQuery: Int, stride: Int) {
        self.init(base: band, heads: 1, sharedAcrossBatch: true, headStride: 0, queryStride: stride,
                  firstColumn: lastQuery - firstQuery * stride)
    }

    private init(base: UnsafeMutablePointer<Float>, heads: Int, sharedAcrossBatch: Bool, headStride: Int, queryStride: Int, firstColumn: Int) {
        (self.base, self.heads, self.sharedAcrossBatch) = (base, heads, sharedAcrossBatch)
        (self.headStride, self.queryStride, self.firstColumn) = (headStride, queryStride, firstColumn)
    }

    /// The entries of query `i` in head `head` (b·H + h), element j for key j.
    func callAsFunction(head: Int, query i: Int) -> UnsafeMutablePointer<Float> {
        let block = sharedAcrossBatch ? head % heads : head
        return base + block * headStride + i * queryStride + firstColumn - i
    }
}

/// Stops with a message naming `what` unless the distances `largestDistance` down to
/// `largestDistance − columns + 1` cover every query–key distance of the kernel call:
/// 0 … Nk − 1 under causal masking, 1 − Nq … Nk − 1 otherwise.
func requireDistances(of what: String, largestDistance: Int, columns: Int, geometry: AttentionGeometry) {
    precondition(geometry.memory >= 0, "a \(what) needs at least as many keys as queries, got \(geometry.queries) queries and \(geometry.keys) keys")
    guard geometry.queries > 0 else { return }
    let smallest = largestDistance - columns + 1
    let needed = (geometry.causal ? 0 : 1 - geometry.queries)...(geometry.keys - 1)
    precondition(smallest <= needed.lowerBound && largestDistance >= needed.upperBound,
                 "the \(what) covers distances \(smallest)…\(largestDistance), but \(geometry.queries) queries over \(geometry.keys) keys"
                     + "\(geometry.causal ? " (causal)" : "") need \(needed.lowerBound)…\(needed.upperBound)")
}

/// The optional distance-indexed tensors of one kernel call (or their gradients) as rows.
/// A factored score term has no rows: the kernel fills them from `position` block by block,
/// and its backward adds their gradient into `positionGradients`.
struct DistanceRows: Sendable {
    var scores: DistanceIndexedRows?
    var mask: DistanceIndexedRows?
    var position: PositionTermBand?
    var positionGradients: PositionTermGradients?
}

/// Calls `body` with the rows of `term` and `mask`, valid only inside `body`.
func withDistanceRows<R>(_ term: RelativeScoreTerm?, _ mask: PostSoftmaxMask?, _ geometry: AttentionGeometry,
                         _ body: (DistanceRows) -> R) -> R {
    let tensors = term?.tensors ?? []
    return withPointer(to: tensors.first) { first in
        withPointer(to: tensors.dropFirst().first) { second in
            withPointer(to: mask?.weights) { weights in
                var rows = DistanceRows()
                if let term, let first {
                    switch term.values {
                    case .scores(let scores):
                        rows.scores = DistanceIndexedRows(perQuery: first, batch: scores.shape[0], geometry: geometry,
                                                          columns: scores.shape[3], largestDistance: term.largestDistance)
                    case .factored(let queries, let keys, let scale):
                        let width = queries.shape[2], depth = width / geometry.heads
                        rows.position = PositionTermBand(
                            queries: HeadRows(base: first, layout: .packed(rows: geometry.queries, rowWidth: width, width: depth, offset: 0),
                                              heads: geometry.heads),
                            keys: HeadRows(base: second!, layout: .sharedByBatch(rowWidth: width, width: depth), heads: geometry.heads),
                            depth: depth, scale: scale, distances: keys.shape[0], firstColumn: term.largestDistance - geometry.memory)
                    }
                }
                rows.mask = weights.map { DistanceIndexedRows(perHead: $0, perBatchEntry: false, geometry: geometry,
                                                              columns: mask!.weights.shape[1], largestDistance: mask!.largestDistance) }
                return body(rows)
            }
        }
    }
}

private func withPointer<R>(to tensor: Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body(UnsafeMutablePointer(mutating: $0.baseAddress!)) }
}

/// Zeroed accumulators for the gradients of a call's score term and mask, and their reduction
/// to the inputs' shapes. The backward runs batch entries in parallel, so whatever the batch
/// shares gets one accumulator per entry, summed at the end: a stored term [B, H, Nq, R] (one
/// row per batch entry even when the term is shared), a factored term's position queries
/// [B, Nq, H·D] and keys [B, R, H·D], the mask [B, H, R].
struct DistanceTermGradients {
    /// Accumulators in the order of the inputs they belong to, each with the batch reduction it needs.
    private let buffers: [(storage: TensorStorage, shape: [Int], reduction: BatchReduction)]
    let rows: DistanceRows

    private enum BatchReduction { case none, sum, sumKeepingAxis }

    init(relativeScores: RelativeScoreTerm?, postSoftmaxMask: PostSoftmaxMask?, geometry g: AttentionGeometry) {
        var buffers: [(storage: TensorStorage, shape: [Int], reduction: BatchReduction)] = []
        var rows = DistanceRows()
        func add(_ shape: [Int], _ reduction: BatchReduction) -> UnsafeMutablePointer<Float> {
            let storage = TensorStorage(count: shape.reduce(1, *))
            storage.pointer.update(repeating: 0, count: storage.count)
            buffers.append((storage, shape, reduction))
            return storage.pointer
        }
        if let term = relativeScores {
            switch term.values {
            case .scores(let scores):
                let shape = [g.batch, g.heads, g.queries, scores.shape[3]]
                rows.scores = DistanceIndexedRows(perQuery: add(shape, scores.shape[0] == 1 ? .sumKeepingAxis : .none), batch: g.batch,
                                                  geometry: g, columns: shape[3], largestDistance: term.largestDistance)
            case .factored(let queries, let keys, _):
                let width = queries.shape[2], depth = width / g.heads, distances = keys.shape[0]
                let queryGradient = add(queries.shape, .none), keyGradient = add([g.batch, distances, width], .sum)
                rows.positionGradients = PositionTermGradients(
                    queries: HeadRows(base: queryGradient, layout: .packed(rows: g.queries, rowWidth: width, width: depth, offset: 0), heads: g.heads),
                    keys: HeadRows(base: keyGradient, layout: .packed(rows: distances, rowWidth: width, width: depth, offset: 0), heads: g.heads))
            }
        }
        if let mask = postSoftmaxMask {
            let shape = [g.batch, g.heads, mask.weights.shape[1]]
            rows.mask = DistanceIndexedRows(perHead: add(shape, .sum), perBatchEntry: true, geometry: g, columns: shape[2],
                                            largestDistance: mask.largestDistance)
        }
        (self.buffers, self.rows) = (buffers, rows)
    }

    /// The gradients of the term's tensors and of the mask that were given, in that order.
    func tensors() -> [Tensor?] {
        buffers.map { buffer in
            let gradient = Tensor(shape: buffer.shape) { $0.baseAddress!.update(from: buffer.storage.pointer, count: buffer.storage.count) }
            switch buffer.reduction {
            case .none: return gradient
            case .sum: return buffer.shape[0] == 1 ? gradient.reshaped(to: Array(buffer.shape.dropFirst())) : gradient.sum(alongAxis: 0)
            case .sumKeepingAxis: return buffer.shape[0] == 1 ? gradient : gradient.sum(alongAxis: 0, keepingDimensions: true)
            }
        }
    }
}
