import Foundation
import GlanceCore

/// Settings of Reformer's LSH attention, with Hugging Face's defaults for the neighbours.
public struct LSHAttentionOptions: Sendable, Equatable {
    /// Hash rounds (`num_hashes`).
    public let hashes: Int
    public let buckets: LSHBuckets
    /// Slots per chunk of the sorted sequence (`lsh_attn_chunk_length`).
    public let chunkLength: Int
    /// Neighbouring chunks each chunk attends to (`lsh_num_chunks_before` / `_after`).
    public let chunksBefore: Int
    public let chunksAfter: Int

    /// Throws an error naming the field (`lsh_num_hashes`, `lsh_chunk_length`,
    /// `lsh_num_chunks_before`, `lsh_num_chunks_after`) that cannot work.
    public init(hashes: Int, buckets: LSHBuckets, chunkLength: Int, chunksBefore: Int = 1, chunksAfter: Int = 0) throws {
        guard hashes >= 1 else { throw AttentionConfigurationError(field: "lsh_num_hashes", reason: "must be at least 1, got \(hashes)") }
        try validateChunking(chunkLength: chunkLength, before: chunksBefore, after: chunksAfter, prefix: "lsh")
        self.hashes = hashes
        self.buckets = buckets
        self.chunkLength = chunkLength
        self.chunksBefore = chunksBefore
        self.chunksAfter = chunksAfter
    }
}

/// Checks the chunking fields of LSH (`prefix` "lsh") or local ("local") attention.
func validateChunking(chunkLength: Int, before: Int, after: Int, prefix: String) throws {
    guard chunkLength >= 1 else { throw AttentionConfigurationError(field: "\(prefix)_chunk_length", reason: "must be at least 1, got \(chunkLength)") }
    guard before >= 0 else { throw AttentionConfigurationError(field: "\(prefix)_num_chunks_before", reason: "must be at least 0, got \(before)") }
    guard after >= 0 else { throw AttentionConfigurationError(field: "\(prefix)_num_chunks_after", reason: "must be at least 0, got \(after)") }
}

/// How a sequence of `length` is chunked: sequences no longer than a chunk get plain full
/// attention (Hugging Face's `do_standard_self_attention`); longer ones are padded (masked)
/// to a multiple of the chunk length, as Hugging Face's `ReformerModel` pads its input.
struct ChunkLayout {
    let length: Int
    /// Positions after padding.
    let padded: Int
    let chunked: Bool

    init(length: Int, chunkLength: Int) {
        self.length = length
        chunked = length > chunkLength
        padded = chunked ? (length + chunkLength - 1) / chunkLength * chunkLength : length
    }

    /// The key-padding mask flattened to [batch · padded] (false: padding), or nil when every
    /// position is a real token.
    func tokens(_ keyPadding: [[Bool]]?, batch: Int) -> [Bool]? {
        if let keyPadding {
            precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == length },
                         "key padding mask must be \(batch) × \(length)")
        }
        guard keyPadding != nil || padded > length else { return nil }
        var flat = [Bool](repeating: false, count: batch * padded)
        for b in 0..<batch {
            for p in 0..<length { flat[b * padded + p] = keyPadding?[b][p] ?? true }
        }
        return flat
    }
}

/// Reformer's LSH self-attention (Kitaev et al. 2020) with Hugging Face's semantics, for
/// shared query-keys and values [B, H, n, d] and `rotations` [H, d, hashes, directions]:
/// per hash round, positions are bucketed by angular LSH, sorted by (bucket, position),
/// cut into chunks that attend to themselves and their neighbours (keys are the query-keys
/// normalized to length 1 by `x·rsqrt(mean(x²) + 1e-6)/√d`, scores unscaled), the sort is
/// undone and the rounds are combined with weights softmax over rounds of each round's
/// log-sum-exp. A query's own key scores −1e5 and masked keys −1e9 (see
/// ``ChunkedAttentionKernel``). Sequences no longer than a chunk get full attention over
/// all positions (one round, no hashing); longer ones not a multiple of the chunk length
/// are padded with masked positions. Forward and backward are fused (the sort is not
/// differentiated, as in Hugging Face); memory is O(B·H·hashes·n·chunk).
///
/// With `sortCache`, a cache filled by a call of the same sizes replaces hashing by its
/// orders; an empty one (or one of other sizes) keeps this call's orders.
public func lshAttention(queryKeys qk: Tensor, values v: Tensor, rotations: Tensor, options: LSHAttentionOptions,
                         mask: AttentionMask, sortCache: LSHSortCache? = nil) -> Tensor {
    precondition(qk.rank == 4 && v.shape == qk.shape, "lshAttention expects query-keys and values [B, H, n, d], got \(qk.shape), \(v.shape)")
    let (batch, heads, length, depth) = (qk.shape[0], qk.shape[1], qk.shape[2], qk.shape[3])
    guard qk.count > 0 else { return .zeros(qk.shape) }
    let layout = ChunkLayout(length: length, chunkLength: options.chunkLength)
    let hashes = layout.chunked ? options.hashes : 1
    precondition(!layout.chunked || rotations.shape == [heads, depth, hashes, options.buckets.directions],
                 "rotations must be \([heads, depth, hashes, options.buckets.directions]), got \(rotations.shape)")
    let run = LSHRun(batch: batch, heads: heads, layout: layout, depth: depth, hashes: hashes, options: options,
                     tokens: layout.tokens(mask.keyPadding, batch: batch),
                     kernel: ChunkedAttentionKernel(slots: hashes * layout.padded,
                                                    chunkLength: layout.chunked ? options.chunkLength : length,
                                                    chunksBefore: layout.chunked ? options.chunksBefore : 0,
                                                    chunksAfter: layout.chunked ? options.chunksAfter : 0,
                                                    depth: depth, scale: 1, causal: mask.causal, masksSelf: true))
    let recording = GradientMode.isRecording && (qk.requiresGradient || v.requiresGradient)
    let state = LSHState(run: run, keepsProbabilities: recording)
    let cached = sortCache?.positions.flatMap { $0.count == batch * heads * run.slots ? $0 : nil }
    if let cached { state.positions.update(from: cached, count: cached.count) }
    let output = Tensor(shape: [batch, heads, length, depth]) { out in
        qk.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { vb in
                rotations.withUnsafeBufferPointer { r in
                    run.forward(qk: q.baseAddress!, v: vb.baseAddress!, rotations: cached == nil ? r.baseAddress! : nil, state: state,
                                output: out.baseAddress!)
                }
            }
        }
    }
    if let sortCache, cached == nil {
        sortCache.positions = Array(UnsafeBufferPointer(start: state.positions, count: batch * heads * run.slots))
    }
    guard recording else { return output }
    let (qkd, vd, od) = (qk.detached(), v.detached(), output)
    return output.recorded(from: [qk, v]) { g in
        var dqk = Tensor.zeros(qk.shape), dv = Tensor.zeros(v.shape)
        qkd.withUnsafeBufferPointer { q in
            vd.withUnsafeBufferPointer { vb in
                od.withUnsafeBufferPointer { o in
                    g.withUnsafeBufferPointer { gb in
                        dqk.withUnsafeMutableBufferPointer { dq in
                            dv.withUnsafeMutableBufferPointer { dvb in
                                run.backward(qk: q.baseAddress!, v: vb.baseAddress!, output: o.baseAddress!, outputGradient: gb.baseAddress!,
                                             state: state, dqk: dq.baseAddress!, dv: dvb.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return [dqk, dv]
    }
}

/// The sort orders of one ``lshAttention(queryKeys:values:rotations:options:mask:sortCache:)``
/// call, to be replayed by a later call on the same sizes. A reversible stack's backward pass
/// recomputes attention from reconstructed inputs, which may hash differently by rounding;
/// replaying the forward's orders (as Hugging Face reuses its buckets) keeps its gradients
/// those of the forward.
public final class LSHSortCache: @unchecked Sendable {
    var positions: [Int32]?

    public init() {}

    /// Whether no orders are kept.
    public var isEmpty: Bool { positions == nil }

    /// Forgets the kept orders: the next call hashes again and keeps its orders.
    public func clear() { positions = nil }
}

/// What the LSH forward keeps for the backward: sort orders, per-round outputs and
/// log-sum-exps, and the probabilities when a backward will run.
final class LSHState: @unchecked Sendable {
    let positions: UnsafeMutablePointer<Int32>
    let roundOutputs: TensorStorage
    let logSumExp: TensorStorage
    let probabilities: TensorStorage?

    init(run: LSHRun, keepsProbabilities: Bool) {
        let slices = run.batch * run.heads, slots = run.kernel.slots
        positions = .allocate(capacity: slices * slots)
        roundOutputs = TensorStorage(count: slices * slots * run.depth)
        logSumExp = TensorStorage(count: slices * slots)
        probabilities = keepsProbabilities ? TensorStorage(count: slices * slots * run.kernel.window) : nil
    }

    deinit { positions.deallocate() }
}

/// The loops of ``lshAttention(queryKeys:values:rotations:options:mask:sortCache:)`` over slices
/// (batch entry × head), in parallel.
struct LSHRun: Sendable {
    let batch, heads: Int
    let layout: ChunkLayout
    let depth, hashes: Int
    let options: LSHAttentionOptions
    let tokens: [Bool]?
    let kernel: ChunkedAttentionKernel

    var slots: Int { kernel.slots }

    /// Per-worker buffers.
    final class Scratch {
        let q, k, v, normalized, chunk, rotated: UnsafeMutablePointer<Float>
        let keyPositions: UnsafeMutablePointer<Int32>
        init(_ run: LSHRun) {
            let rows = run.slots * run.depth
            q = .allocate(capacity: rows); k = .allocate(capacity: rows); v = .allocate(capacity: rows)
            normalized = .allocate(capacity: run.layout.padded * run.depth)
            chunk = .allocate(capacity: run.kernel.chunkLength * run.kernel.window)
            rotated = .allocate(capacity: run.layout.length * run.hashes * run.options.buckets.directions)
            keyPositions = .allocate(capacity: run.kernel.window)
        }
        deinit {
            for buffer in [q, k, v, normalized, chunk, rotated] { buffer.deallocate() }
            keyPositions.deallocate()
        }
    }

    /// The slot order of one slice: positions sorted by LSH bucket within each round, or in
    /// order for full attention.
    func sort(slice: Int, qk: UnsafePointer<Float>, rotations: UnsafePointer<Float>, positions: UnsafeMutablePointer<Int32>,
              scratch: Scratch) {
        guard layout.chunked else {
            for s in 0..<slots { positions[s] = Int32(s) }
            return
        }
        let padded = layout.padded, entry = slice / heads
        let tokenRow = tokens.map { Array($0[entry * padded ..< (entry + 1) * padded]) }
        let order = LSHSortOrder(vectors: qk + slice * layout.length * depth, realCount: layout.length, length: padded, depth: depth,
                                 rotations: rotations + (slice % heads) * depth * hashes * options.buckets.directions,
                                 hashes: hashes, buckets: options.buckets, tokens: tokenRow, scratch: scratch.rotated)
        positions.update(from: order.positions, count: slots)
    }

    /// Gathers one slice's query-keys, normalized keys and values into slot order.
    func gather(slice: Int, qk: UnsafePointer<Float>, v: UnsafePointer<Float>, positions: UnsafePointer<Int32>, scratch: Scratch) {
        let length = layout.length
        let qkSlice = qk + slice * length * depth
        for p in 0..<length {
            let x = qkSlice + p * depth, y = scratch.normalized + p * depth
            y.update(from: x, count: depth)
            vectorScale(y, normalizingFactor(x), depth)
        }
        gatherRows(qkSlice, realCount: length, positions: positions, count: slots, depth: depth, into: scratch.q)
        gatherRows(scratch.normalized, realCount: length, positions: positions, count: slots, depth: depth, into: scratch.k)
        gatherRows(v + slice * length * depth, realCount: length, positions: positions, count: slots, depth: depth, into: scratch.v)
    }

    /// rsqrt(mean(x²) + 1e-6)/√d, Hugging Face's `_len_and_dim_norm` factor.
    func normalizingFactor(_ x: UnsafePointer<Float>) -> Float {
        1 / ((vectorDot(x, x, depth) / Float(depth) + 1e-6).squareRoot() * Float(depth).squareRoot())
    }

    /// Slot of each (round, position): the inverse of the sort.
    func undoOrder(_ positions: UnsafePointer<Int32>) -> [Int] {
        var undo = [Int](repeating: 0, count: slots)
        for s in 0..<slots { undo[(s / layout.padded) * layout.padded + Int(positions[s])] = s }
        return undo
    }

    /// Weights of the rounds at one position: softmax of their log-sum-exps.
    func roundWeights(position p: Int, undo: [Int], logSumExp: UnsafePointer<Float>, into weights: inout [Float]) {
        var peak = -Float.infinity
        for r in 0..<hashes { peak = Swift.max(peak, logSumExp[undo[r * layout.padded + p]]) }
        var total: Float = 0
        for r in 0..<hashes {
            weights[r] = Foundation.exp(logSumExp[undo[r * layout.padded + p]] - peak)
            total += weights[r]
        }
        for r in 0..<hashes { weights[r] /= total }
    }

    func tokenPointer(_ slice: Int, _ buffer: UnsafeBufferPointer<Bool>?) -> UnsafePointer<Bool>? {
        buffer.map { $0.baseAddress! + (slice / heads) * layout.padded }
    }

    /// Without `rotations`, the sort orders already in `state` are used.
    func forward(qk: UnsafePointer<Float>, v: UnsafePointer<Float>, rotations: UnsafePointer<Float>?, state: LSHState,
                 output: UnsafeMutablePointer<Float>) {
        let (pqk, pv, po) = (SendablePointer(qk), SendablePointer(v), SendablePointer(output))
        let pr = rotations.map(SendablePointer.init)
        let (length, window) = (layout.length, kernel.window)
        parallelFor(batch * heads) { range in
            let scratch = Scratch(self)
            var weights = [Float](repeating: 0, count: hashes)
            for slice in range {
                let positions = state.positions + slice * slots
                if let pr { sort(slice: slice, qk: pqk.base, rotations: pr.base, positions: positions, scratch: scratch) }
                gather(slice: slice, qk: pqk.base, v: pv.base, positions: positions, scratch: scratch)
                let roundOutputs = state.roundOutputs.pointer + slice * slots * depth
                let logSumExp = state.logSumExp.pointer + slice * slots
                withTokens { tokens in
                    kernel.forward(q: scratch.q, k: scratch.k, v: scratch.v, positions: positions, tokens: tokenPointer(slice, tokens),
                                   output: roundOutputs, logSumExp: logSumExp,
                                   probabilities: state.probabilities.map { $0.pointer + slice * slots * window },
                                   scratch: scratch.chunk, keyPositions: scratch.keyPositions)
                }
                let undo = undoOrder(positions)
                let out = po.base + slice * length * depth
                for p in 0..<length {
                    roundWeights(position: p, undo: undo, logSumExp: logSumExp, into: &weights)
                    let row = out + p * depth
                    row.update(repeating: 0, count: depth)
                    for r in 0..<hashes { vectorAxpy(weights[r], roundOutputs + undo[r * layout.padded + p] * depth, row, depth) }
                }
            }
        }
    }

    func withTokens<R>(_ body: (UnsafeBufferPointer<Bool>?) -> R) -> R {
        if let tokens { return tokens.withUnsafeBufferPointer { body($0) } }
        return body(nil)
    }

    func backward(qk: UnsafePointer<Float>, v: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  state: LSHState, dqk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let (pqk, pv, po, pg) = (SendablePointer(qk), SendablePointer(v), SendablePointer(output), SendablePointer(outputGradient))
        let (pdqk, pdv) = (SendablePointer(dqk), SendablePointer(dv))
        let (length, padded, window) = (layout.length, layout.padded, kernel.window)
        parallelFor(batch * heads) { range in
            let scratch = Scratch(self)
            let rows = slots * depth
            let dq = UnsafeMutablePointer<Float>.allocate(capacity: rows), dk = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            let dvSorted = UnsafeMutablePointer<Float>.allocate(capacity: rows), gSorted = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            let dNormalized = UnsafeMutablePointer<Float>.allocate(capacity: padded * depth)
            let dLogSumExp = UnsafeMutablePointer<Float>.allocate(capacity: slots)
            defer { for buffer in [dq, dk, dvSorted, gSorted, dNormalized, dLogSumExp] { buffer.deallocate() } }
            var weights = [Float](repeating: 0, count: hashes)
            for slice in range {
                let positions = state.positions + slice * slots
                // Gathered again (rather than kept from the forward) in the forward's order.
                gather(slice: slice, qk: pqk.base, v: pv.base, positions: positions, scratch: scratch)
                let roundOutputs = state.roundOutputs.pointer + slice * slots * depth
                let logSumExp = state.logSumExp.pointer + slice * slots
                let undo = undoOrder(positions)
                // Through the combination of rounds: dO_r = w_r g ; d lse_r = w_r (g·O_r − g·out).
                gSorted.update(repeating: 0, count: rows)
                dLogSumExp.update(repeating: 0, count: slots)
                for p in 0..<length {
                    roundWeights(position: p, undo: undo, logSumExp: logSumExp, into: &weights)
                    let g = pg.base + (slice * length + p) * depth
                    let gOut = vectorDot(g, po.base + (slice * length + p) * depth, depth)
                    for r in 0..<hashes {
                        let s = undo[r * padded + p]
                        vectorAxpy(weights[r], g, gSorted + s * depth, depth)
                        if hashes > 1 { dLogSumExp[s] = weights[r] * (vectorDot(g, roundOutputs + s * depth, depth) - gOut) }
                    }
                }
                dq.update(repeating: 0, count: rows); dk.update(repeating: 0, count: rows); dvSorted.update(repeating: 0, count: rows)
                withTokens { tokens in
                    kernel.backward(q: scratch.q, k: scratch.k, v: scratch.v, positions: positions, tokens: tokenPointer(slice, tokens),
                                    probabilities: state.probabilities!.pointer + slice * slots * window, outputGradient: gSorted,
                                    logSumExpGradient: dLogSumExp, dq: dq, dk: dk, dv: dvSorted,
                                    scratch: scratch.chunk, keyPositions: scratch.keyPositions)
                }
                let dqSlice = pdqk.base + slice * length * depth, qkSlice = pqk.base + slice * length * depth
                scatterAddRows(dq, positions: positions, count: slots, depth: depth, realCount: length, into: dqSlice)
                scatterAddRows(dvSorted, positions: positions, count: slots, depth: depth, realCount: length, into: pdv.base + slice * length * depth)
                dNormalized.update(repeating: 0, count: padded * depth)
                scatterAddRows(dk, positions: positions, count: slots, depth: depth, realCount: length, into: dNormalized)
                // Through the normalization y = x·f, f = s/√d, s = rsqrt(mean(x²) + ε):
                // dx = f·dy − f·s²·x·(x·dy)/d.
                for p in 0..<length {
                    let x = qkSlice + p * depth, dy = dNormalized + p * depth
                    let f = normalizingFactor(x), s = f * Float(depth).squareRoot()
                    let projection = vectorDot(x, dy, depth)
                    vectorAxpy(f, dy, dqSlice + p * depth, depth)
                    vectorAxpy(-f * s * s * projection / Float(depth), x, dqSlice + p * depth, depth)
                }
            }
        }
    }
}
