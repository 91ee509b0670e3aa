import GlanceCore
import GlanceNN

/// Reformer's local self-attention with Hugging Face's semantics (`LocalSelfAttention`), for
/// queries, keys and values [B, H, n, d]: positions are cut into chunks of `chunkLength`,
/// each attending to itself and `chunksBefore` / `chunksAfter` neighbouring chunks
/// (cyclically, so without a causal mask chunk 0 sees the last chunk), with scores
/// q·k/√d and masked scores replaced by −1e9 (see ``ChunkedAttentionKernel``). Sequences no
/// longer than a chunk get full attention; longer ones not a multiple of the chunk length
/// are padded with masked positions. Fused forward and backward; memory O(B·H·n·chunk).
public func localChunkedAttention(queries q: Tensor, keys k: Tensor, values v: Tensor, chunkLength: Int,
                                  chunksBefore: Int = 1, chunksAfter: Int = 0, mask: AttentionMask) -> Tensor {
    precondition(q.rank == 4 && k.shape == q.shape && v.shape == q.shape,
                 "localChunkedAttention expects queries, keys and values [B, H, n, d], got \(q.shape), \(k.shape), \(v.shape)")
    precondition(chunkLength >= 1 && chunksBefore >= 0 && chunksAfter >= 0, "invalid chunking \(chunkLength), \(chunksBefore), \(chunksAfter)")
    let (batch, heads, length, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    guard q.count > 0 else { return .zeros(q.shape) }
    let layout = ChunkLayout(length: length, chunkLength: chunkLength)
    let run = LocalRun(batch: batch, heads: heads, layout: layout, depth: depth,
                       tokens: layout.tokens(mask.keyPadding, batch: batch),
                       kernel: ChunkedAttentionKernel(slots: layout.padded, chunkLength: layout.chunked ? chunkLength : length,
                                                      chunksBefore: layout.chunked ? chunksBefore : 0,
                                                      chunksAfter: layout.chunked ? chunksAfter : 0, depth: depth,
                                                      scale: 1 / Float(depth).squareRoot(), causal: mask.causal, masksSelf: false))
    let recording = GradientMode.isRecording && (q.requiresGradient || k.requiresGradient || v.requiresGradient)
    let probabilities = recording ? TensorStorage(count: batch * heads * layout.padded * run.kernel.window) : nil
    let output = Tensor(shape: q.shape) { out in
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    run.forward(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, probabilities: probabilities?.pointer,
                                output: out.baseAddress!)
                }
            }
        }
    }
    guard let probabilities else { return output }
    let (qd, kd, vd) = (q.detached(), k.detached(), v.detached())
    return output.recorded(from: [q, k, v]) { g in
        attentionGradients(q: qd, k: kd, v: vd, outputGradient: g) { b in
            run.backward(q: b.q, k: b.k, v: b.v, probabilities: probabilities.pointer, outputGradient: b.outputGradient,
                         dq: b.dq, dk: b.dk, dv: b.dv)
        }
    }
}

/// The loops of ``localChunkedAttention(queries:keys:values:chunkLength:chunksBefore:chunksAfter:mask:)``
/// over slices (batch entry × head), in parallel. Slices are copied into padded buffers.
struct LocalRun: Sendable {
    let batch, heads: Int
    let layout: ChunkLayout
    let depth: Int
    let tokens: [Bool]?
    let kernel: ChunkedAttentionKernel

    /// Per-worker buffers: `rows` padded slices and the kernel's scratch.
    final class Scratch {
        let rows: [UnsafeMutablePointer<Float>]
        let logSumExp, chunk: UnsafeMutablePointer<Float>
        let positions, keyPositions: UnsafeMutablePointer<Int32>
        init(_ run: LocalRun, buffers: Int) {
            rows = (0..<buffers).map { _ in .allocate(capacity: run.layout.padded * run.depth) }
            logSumExp = .allocate(capacity: run.layout.padded)
            chunk = .allocate(capacity: run.kernel.chunkLength * run.kernel.window)
            positions = .allocate(capacity: run.layout.padded)
            keyPositions = .allocate(capacity: run.kernel.window)
            for p in 0..<run.layout.padded { positions[p] = Int32(p) }
        }
        deinit {
            for buffer in rows + [logSumExp, chunk] { buffer.deallocate() }
            positions.deallocate(); keyPositions.deallocate()
        }
    }

    func tokenPointer(_ slice: Int, _ buffer: UnsafeBufferPointer<Bool>?) -> UnsafePointer<Bool>? {
        buffer.map { $0.baseAddress! + (slice / heads) * layout.padded }
    }

    func withTokens<R>(_ body: (UnsafeBufferPointer<Bool>?) -> R) -> R {
        if let tokens { return tokens.withUnsafeBufferPointer { body($0) } }
        return body(nil)
    }

    /// Copies slice `slice` of each source into the scratch buffers, zero-padded.
    func load(_ sources: [UnsafePointer<Float>], slice: Int, scratch: Scratch) {
        for (source, buffer) in zip(sources, scratch.rows) {
            gatherRows(source + slice * layout.length * depth, realCount: layout.length, positions: scratch.positions,
                       count: layout.padded, depth: depth, into: buffer)
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, probabilities: UnsafeMutablePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let sources = [q, k, v].map(SendablePointer.init), po = SendablePointer(output)
        let pp = probabilities.map(SendablePointer.init)
        let (length, padded, window) = (layout.length, layout.padded, kernel.window)
        parallelFor(batch * heads) { range in
            let scratch = Scratch(self, buffers: 4)
            for slice in range {
                load(sources.map { UnsafePointer($0.base) }, slice: slice, scratch: scratch)
                withTokens { tokens in
                    kernel.forward(q: scratch.rows[0], k: scratch.rows[1], v: scratch.rows[2], positions: scratch.positions,
                                   tokens: tokenPointer(slice, tokens), output: scratch.rows[3], logSumExp: scratch.logSumExp,
                                   probabilities: pp.map { $0.base + slice * padded * window }, scratch: scratch.chunk,
                                   keyPositions: scratch.keyPositions)
                }
                (po.base + slice * length * depth).update(from: scratch.rows[3], count: length * depth)
            }
        }
    }

    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                  dv: UnsafeMutablePointer<Float>) {
        let sources = [q, k, v, outputGradient].map(SendablePointer.init)
        let gradients = [dq, dk, dv].map(SendablePointer.init), pp = SendablePointer(probabilities)
        let (length, padded, window) = (layout.length, layout.padded, kernel.window)
        parallelFor(batch * heads) { range in
            let scratch = Scratch(self, buffers: 7)
            scratch.logSumExp.update(repeating: 0, count: padded)
            for slice in range {
                load(sources.map { UnsafePointer($0.base) }, slice: slice, scratch: scratch)
                for buffer in scratch.rows[4..<7] { buffer.update(repeating: 0, count: padded * depth) }
                withTokens { tokens in
                    kernel.backward(q: scratch.rows[0], k: scratch.rows[1], v: scratch.rows[2], positions: scratch.positions,
                                    tokens: tokenPointer(slice, tokens), probabilities: pp.base + slice * padded * window,
                                    outputGradient: scratch.rows[3], logSumExpGradient: scratch.logSumExp,
                                    dq: scratch.rows[4], dk: scratch.rows[5], dv: scratch.rows[6],
                                    scratch: scratch.chunk, keyPositions: scratch.keyPositions)
                }
                for (gradient, buffer) in zip(gradients, scratch.rows[4..<7]) {
                    (gradient.base + slice * length * depth).update(from: buffer, count: length * depth)
                }
            }
        }
    }
}

/// Hugging Face Reformer's `LocalSelfAttention` layer: query, key and value projections
/// (no bias; `query`, `key`, `value` as in Hugging Face) and chunked local attention.
/// Maps [B, n, hidden] to [B, n, heads · headDimensions]; the output projection belongs
/// to the enclosing layer (Hugging Face's `ReformerSelfOutput`).
public final class LocalSelfAttention: Module {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let heads: Int
    public let headDimensions: Int
    /// `local_attn_chunk_length`, `local_num_chunks_before`, `local_num_chunks_after`.
    public let chunkLength: Int
    public let chunksBefore: Int
    public let chunksAfter: Int

    /// Throws an error naming the field (`heads`, `attention_head_size`, `local_chunk_length`,
    /// `local_num_chunks_before`, `local_num_chunks_after`) that cannot work.
    public init(hiddenSize: Int, heads: Int, headDimensions: Int, chunkLength: Int = 64, chunksBefore: Int = 1, chunksAfter: Int = 0,
                standardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        try validateHeads(hiddenSize: hiddenSize, heads: heads, headDimensions: headDimensions)
        try validateChunking(chunkLength: chunkLength, before: chunksBefore, after: chunksAfter, prefix: "local")
        let width = heads * headDimensions
        query = Linear(hiddenSize, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        key = Linear(hiddenSize, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        value = Linear(hiddenSize, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        (self.heads, self.headDimensions) = (heads, headDimensions)
        (self.chunkLength, self.chunksBefore, self.chunksAfter) = (chunkLength, chunksBefore, chunksAfter)
        super.init()
    }

    public func callAsFunction(_ input: Tensor, mask: AttentionMask) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == query.inputCount,
                     "LocalSelfAttention expects [batch, length, \(query.inputCount)], got \(input.shape)")
        let attended = localChunkedAttention(queries: query(input).splittingHeads(heads), keys: key(input).splittingHeads(heads),
                                             values: value(input).splittingHeads(heads), chunkLength: chunkLength,
                                             chunksBefore: chunksBefore, chunksAfter: chunksAfter, mask: mask)
        return attended.mergingHeads()
    }
}

/// Checks the head layout of a Reformer layer (heads × head size need not equal the hidden size).
func validateHeads(hiddenSize: Int, heads: Int, headDimensions: Int) throws {
    guard hiddenSize >= 1 else { throw AttentionConfigurationError(field: "d_model", reason: "must be at least 1, got \(hiddenSize)") }
    guard heads >= 1 else { throw AttentionConfigurationError(field: "heads", reason: "must be at least 1, got \(heads)") }
    guard headDimensions >= 1 else { throw AttentionConfigurationError(field: "attention_head_size", reason: "must be at least 1, got \(headDimensions)") }
}
