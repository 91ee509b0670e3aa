import Foundation
import GlanceCore

/// The keys and values one attention layer has seen while it decodes a few positions at a
/// time: for each batch entry and head, rows of keys [positions, keyDimensions] and values
/// [positions, valueDimensions].
///
/// Storage is allocated ahead and doubles when full, so appending one position costs O(1)
/// amortized copies. A layer that reads only the last w earlier positions (a sliding window)
/// passes `retaining: w`: when the storage is full, the positions that no later query can
/// read are dropped instead, and the storage stays O(w). Kernels read the rows in place
/// through ``withRows(_:)``; nothing is copied to read them.
public final class KeyValueCache: ReorderableAttentionCache {
    /// Sequences held side by side (``reorder(_:)`` changes it).
    public private(set) var batch: Int
    public let heads: Int
    public let keyDimensions: Int
    public let valueDimensions: Int
    /// How many positions before a call's first new position its queries (and later ones) may
    /// still read; nil: all of them.
    public let retained: Int?
    /// Positions seen so far.
    public private(set) var length = 0
    /// Positions held now: the last `heldCount` of the `length` seen.
    public private(set) var heldCount = 0
    /// Rows of storage for each batch entry and head.
    public private(set) var capacity: Int
    private var keys: UnsafeMutablePointer<Float>
    private var values: UnsafeMutablePointer<Float>

    /// An empty cache; `initialCapacity` rows are allocated ahead (at least 2·`retaining`).
    public init(batch: Int, heads: Int, keyDimensions: Int, valueDimensions: Int, retaining: Int? = nil, initialCapacity: Int = 64) {
        precondition(batch >= 1 && heads >= 1 && keyDimensions >= 1 && valueDimensions >= 1,
                     "a key-value cache needs positive sizes, got batch \(batch), heads \(heads), widths \(keyDimensions), \(valueDimensions)")
        precondition(retaining.map { $0 >= 0 } ?? true, "retained positions must be non-negative, got \(retaining!)")
        (self.batch, self.heads, self.keyDimensions, self.valueDimensions, retained) = (batch, heads, keyDimensions, valueDimensions, retaining)
        capacity = Swift.max(1, initialCapacity, 2 * (retaining ?? 0))
        keys = .allocate(capacity: batch * heads * capacity * keyDimensions)
        values = .allocate(capacity: batch * heads * capacity * valueDimensions)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// The first position held.
    public var firstHeldPosition: Int { length - heldCount }

    /// Appends the keys [batch, heads, n, keyDimensions] and values [batch, heads, n,
    /// valueDimensions] of the next n positions.
    public func append(keys newKeys: Tensor, values newValues: Tensor) {
        let n = newKeys.rank == 4 ? newKeys.shape[2] : 0
        precondition(newKeys.shape == [batch, heads, n, keyDimensions] && newValues.shape == [batch, heads, n, valueDimensions],
                     "cache of [\(batch), \(heads), ·, \(keyDimensions)] keys and [\(batch), \(heads), ·, \(valueDimensions)] values "
                        + "cannot append \(newKeys.shape) and \(newValues.shape)")
        reserve(n)
        for (source, storage, width) in [(newKeys, keys, keyDimensions), (newValues, values, valueDimensions)] {
            source.withUnsafeBufferPointer { rows in
                for slice in 0..<(batch * heads) {
                    (storage + (slice * capacity + heldCount) * width).update(from: rows.baseAddress! + slice * n * width, count: n * width)
                }
            }
        }
        length += n
        heldCount += n
    }

    /// Makes room for `n` more rows: drops the positions no query can read any more when that
    /// frees enough, else doubles the storage.
    private func reserve(_ n: Int) {
        guard heldCount + n > capacity else { return }
        if let retained, heldCount > retained {
            let dropped = heldCount - retained
            for (storage, width) in [(keys, keyDimensions), (values, valueDimensions)] {
                for slice in 0..<(batch * heads) {
                    let start = storage + slice * capacity * width
                    memmove(start, start + dropped * width, retained * width * MemoryLayout<Float>.stride)
                }
            }
            heldCount = retained
        }
        guard heldCount + n > capacity else { return }
        let grown = Swift.max(2 * capacity, heldCount + n)
        keys = regrown(keys, width: keyDimensions, to: grown)
        values = regrown(values, width: valueDimensions, to: grown)
        capacity = grown
    }

    /// `storage` moved into a new allocation of `rows` rows per slice.
    private func regrown(_ storage: UnsafeMutablePointer<Float>, width: Int, to rows: Int) -> UnsafeMutablePointer<Float> {
        let grown = UnsafeMutablePointer<Float>.allocate(capacity: batch * heads * rows * width)
        for slice in 0..<(batch * heads) {
            (grown + slice * rows * width).update(from: storage + slice * capacity * width, count: heldCount * width)
        }
        storage.deallocate()
        return grown
    }

    /// Keeps the sequences `rows` (indices into the current ones, repeats allowed), in that
    /// order: beam search's surviving hypotheses.
    public func reorder(_ rows: [Int]) {
        precondition(!rows.isEmpty && rows.allSatisfy { (0..<batch).contains($0) }, "rows \(rows) must be indices into the cache's \(batch) sequences")
        keys = gathered(keys, width: keyDimensions, rows: rows)
        values = gathered(values, width: valueDimensions, rows: rows)
        batch = rows.count
    }

    /// The held rows of sequences `rows` of `storage`, in a new allocation of the same capacity.
    private func gathered(_ storage: UnsafeMutablePointer<Float>, width: Int, rows: [Int]) -> UnsafeMutablePointer<Float> {
        let kept = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * heads * capacity * width)
        for (row, source) in rows.enumerated() {
            for head in 0..<heads {
                (kept + ((row * heads + head) * capacity) * width)
                    .update(from: storage + ((source * heads + head) * capacity) * width, count: heldCount * width)
            }
        }
        storage.deallocate()
        return kept
    }

    /// Runs `body` with read access to the held rows, in place.
    public func withRows<Result>(_ body: (KeyValueRows) throws -> Result) rethrows -> Result {
        try body(KeyValueRows(keys: keys, values: values, capacity: capacity, keyDimensions: keyDimensions,
                              valueDimensions: valueDimensions, firstPosition: firstHeldPosition, endPosition: length))
    }
}

/// Pointers to the rows a ``KeyValueCache`` holds, valid inside ``KeyValueCache/withRows(_:)``.
/// Slice s is batch entry s / heads, head s % heads.
public struct KeyValueRows: @unchecked Sendable {
    let keys: UnsafePointer<Float>
    let values: UnsafePointer<Float>
    let capacity: Int
    public let keyDimensions: Int
    public let valueDimensions: Int
    /// The positions held: `firstPosition..<endPosition`.
    public let firstPosition: Int
    public let endPosition: Int

    /// The key of `position` in `slice` (keyDimensions floats).
    public func key(slice: Int, position: Int) -> UnsafePointer<Float> {
        keys + (slice * capacity + row(position)) * keyDimensions
    }

    /// The value of `position` in `slice` (valueDimensions floats).
    public func value(slice: Int, position: Int) -> UnsafePointer<Float> {
        values + (slice * capacity + row(position)) * valueDimensions
    }

    private func row(_ position: Int) -> Int {
        precondition(position >= firstPosition && position < endPosition,
                     "position \(position) is not held by the cache (it holds \(firstPosition)..<\(endPosition))")
        return position - firstPosition
    }
}

extension KeyValueCache {
    /// Softmax attention of the newest positions' queries [batch, heads, n, keyDimensions]
    /// (positions `length − n ..< length`, whose keys and values are already appended) to the
    /// keys that `visibleKeys(head, position)` lists (all held, none after `position`): out = Σ_j
    /// softmax_j(q·k_j·scale) v_j, [batch, heads, n, valueDimensions]. Inference only: the
    /// result records no gradient.
    public func attention<Keys: Sequence<Int>>(queries: Tensor, scale: Float,
                                                 visibleKeys: (_ head: Int, _ position: Int) -> Keys) -> Tensor {
        let n = queries.rank == 4 ? queries.shape[2] : 0
        precondition(queries.shape == [batch, heads, n, keyDimensions] && n <= heldCount,
                     "queries \(queries.shape) do not fit a cache of [\(batch), \(heads), \(heldCount), \(keyDimensions)] keys")
        let (heads, keyWidth, valueWidth, held, end) = (heads, keyDimensions, valueDimensions, heldCount, length)
        return Tensor(shape: [batch, heads, n, valueWidth]) { out in
            queries.withUnsafeBufferPointer { q in
                withRows { rows in
                    let (pq, po) = (SendablePointer(q.baseAddress!), SendablePointer(out.baseAddress!))
                    parallelFor(batch * heads) { slices in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: held)
                        let positions = UnsafeMutablePointer<Int>.allocate(capacity: held)
                        defer { scores.deallocate(); positions.deallocate() }
                        for slice in slices {
                            for r in 0..<n {
                                let position = end - n + r
                                let query = pq.base + (slice * n + r) * keyWidth, result = po.base + (slice * n + r) * valueWidth
                                var count = 0
                                for key in visibleKeys(slice % heads, position) {
                                    precondition(key <= position && count < held, "query \(position) sees held keys up to itself, each once; got key \(key) after \(count)")
                                    scores[count] = scale * vectorDot(query, rows.key(slice: slice, position: key), keyWidth)
                                    positions[count] = key
                                    count += 1
                                }
                                softmaxRowInPlace(scores, count)
                                result.update(repeating: 0, count: valueWidth)
                                for index in 0..<count {
                                    vectorAxpy(scores[index], rows.value(slice: slice, position: positions[index]), result, valueWidth)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension AttentionContext {
    /// The cache of an incremental call, as the type `mechanism` made it. Stops with a
    /// precondition when it is another type, or when the context also asks for key padding,
    /// a memory, a source, relative positions or global tokens (incremental decoding takes
    /// none of them).
    public func incrementalCache<Cache: AttentionCache>(as type: Cache.Type, mechanism: String) -> Cache? {
        guard let cache else { return nil }
        guard let typed = cache as? Cache else {
            preconditionFailure("the \(mechanism) attention mechanism decodes with a \(Cache.self), got a \(Swift.type(of: cache))")
        }
        precondition(mask.keyPadding == nil && memory == nil && source == nil && relativePositions == nil && globalTokens == nil,
                     "incremental decoding (\(mechanism)) takes no key padding, memory, source, relative positions or global tokens")
        precondition(!GradientMode.isRecording, "incremental decoding (\(mechanism)) is for inference: run it inside withoutGradients")
        return typed
    }
}
