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
struct DistanceRows: Sendable {
    var scores: DistanceIndexedRows?
    var mask: DistanceIndexedRows?
}

/// Calls `body` with the rows of `term` and `mask`, valid only inside `body`.
func withDistanceRows<R>(_ term: RelativeScoreTerm?, _ mask: PostSoftmaxMask?, _ geometry: AttentionGeometry,
                         _ body: (DistanceRows) -> R) -> R {
    withPointer(to: term?.scores) { scores in
        withPointer(to: mask?.weights) { weights in
            body(DistanceRows(
                scores: scores.map { DistanceIndexedRows(perQuery: $0, batch: term!.scores.shape[0], geometry: geometry,
                                                         columns: term!.scores.shape[3], largestDistance: term!.largestDistance) },
                mask: weights.map { DistanceIndexedRows(perHead: $0, perBatchEntry: false, geometry: geometry,
                                                        columns: mask!.weights.shape[1], largestDistance: mask!.largestDistance) }))
        }
    }
}

private func withPointer<R>(to tensor: Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body(UnsafeMutablePointer(mutating: $0.baseAddress!)) }
}

/// Zeroed accumulators for the gradients of a call's score term ([B, H, Nq, R], one row per
/// batch entry even when the term is shared) and mask ([B, H, R]: the backward runs batch
/// entries in parallel, so each keeps its own row), and their reduction to the inputs' shapes.
struct DistanceTermGradients {
    private let term: (storage: TensorStorage, shape: [Int], shared: Bool)?
    private let mask: (storage: TensorStorage, shape: [Int])?
    let rows: DistanceRows

    init(relativeScores: RelativeScoreTerm?, postSoftmaxMask: PostSoftmaxMask?, geometry g: AttentionGeometry) {
        let term = relativeScores.map { t in
            let shape = [g.batch, g.heads, g.queries, t.scores.shape[3]]
            return (storage: Self.zeros(shape), shape: shape, shared: t.scores.shape[0] == 1)
        }
        let mask = postSoftmaxMask.map { m in
            let shape = [g.batch, g.heads, m.weights.shape[1]]
            return (storage: Self.zeros(shape), shape: shape)
        }
        rows = DistanceRows(
            scores: term.map { DistanceIndexedRows(perQuery: $0.storage.pointer, batch: g.batch, geometry: g, columns: $0.shape[3],
                                                   largestDistance: relativeScores!.largestDistance) },
            mask: mask.map { DistanceIndexedRows(perHead: $0.storage.pointer, perBatchEntry: true, geometry: g, columns: $0.shape[2],
                                                 largestDistance: postSoftmaxMask!.largestDistance) })
        (self.term, self.mask) = (term, mask)
    }

    /// The gradients of the term and the mask that were given, in that order.
    func tensors() -> [Tensor?] {
        var result: [Tensor?] = []
        if let term {
            let gradient = Self.tensor(term.storage, term.shape)
            result.append(term.shared ? gradient.sum(alongAxis: 0, keepingDimensions: true) : gradient)
        }
        if let mask { result.append(Self.tensor(mask.storage, mask.shape).sum(alongAxis: 0)) }
        return result
    }

    private static func zeros(_ shape: [Int]) -> TensorStorage {
        let storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.update(repeating: 0, count: storage.count)
        return storage
    }

    private static func tensor(_ storage: TensorStorage, _ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { $0.baseAddress!.update(from: storage.pointer, count: storage.count) }
    }
}
