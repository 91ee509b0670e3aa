import GlanceCore

/// Softmax attention within chunks of a sequence of slots, the core shared by Reformer's
/// LSH attention (slots sorted by bucket, one run of slots per hash round) and its local
/// attention (slots in position order), for one batch entry and head.
///
/// Slots are cut into chunks of `chunkLength`; chunk c attends to chunks c − before … c +
/// after, cyclically (chunk 0 sees the last chunk when `chunksBefore` > 0; a chunk appears
/// twice if there are fewer chunks than neighbours), exactly as Hugging Face's
/// `_look_adjacent`. Scores are `scale`·q·k. As in Hugging Face, masked scores are replaced
/// (not offset) by −1e9 — a key after the query's position when `causal`, a padding key —
/// and, when `masksSelf`, a query's own position by −1e5, so that a token attends to itself
/// only when nothing else is visible. Each chunk's scores come from one BLAS product over
/// its window (one per neighbour chunk where the window wraps around); memory is
/// O(slots · window).
struct ChunkedAttentionKernel: Sendable {
    let slots, chunkLength, chunksBefore, chunksAfter, depth: Int
    let scale: Float
    let causal: Bool
    let masksSelf: Bool

    /// Hugging Face's float32 mask values (`mask_value_float32`, `self_mask_value_float32`).
    static let maskValue: Float = -1e9
    static let selfMaskValue: Float = -1e5

    var chunks: Int { slots / chunkLength }
    var neighbours: Int { chunksBefore + 1 + chunksAfter }
    /// Keys seen by each query.
    var window: Int { chunkLength * neighbours }

    /// The i-th chunk (0 ..< neighbours) that chunk `c` attends to.
    func keyChunk(_ c: Int, _ i: Int) -> Int { ((c - chunksBefore + i) % chunks + chunks) % chunks }

    /// The keys of chunk `c` as runs of consecutive slots: (column in the window, first slot,
    /// slots). Neighbours that do not wrap around are one run, so that each product is one
    /// BLAS call over the whole window.
    func keyRuns(_ c: Int) -> [(column: Int, slot: Int, count: Int)] {
        if c - chunksBefore >= 0 && c + chunksAfter < chunks { return [(0, (c - chunksBefore) * chunkLength, window)] }
        return (0..<neighbours).map { (column: $0 * chunkLength, slot: keyChunk(c, $0) * chunkLength, count: chunkLength) }
    }

    /// The constant that replaces the score of a query at position `query` for a key at
    /// position `key`, or nil when the score stays. `tokens[p]` is false for padding.
    @inline(__always)
    func replacement(query: Int32, key: Int32, tokens: UnsafePointer<Bool>?) -> Float? {
        if masksSelf && query == key { return Self.selfMaskValue }
        if causal && key > query { return Self.maskValue }
        if let tokens, !tokens[Int(key)] { return Self.maskValue }
        return nil
    }

    /// Positions of the keys chunk `c` sees, in window order.
    func collectKeyPositions(chunk c: Int, positions: UnsafePointer<Int32>, into keyPositions: UnsafeMutablePointer<Int32>) {
        for i in 0..<neighbours {
            (keyPositions + i * chunkLength).update(from: positions + keyChunk(c, i) * chunkLength, count: chunkLength)
        }
    }

    /// Outputs [slots, depth] and the log-sum-exp of each query's scores; the probabilities
    /// [slots, window] go to `probabilities` when given (for the backward pass), else to
    /// `scratch` (chunkLength × window). `keyPositions` holds `window` entries.
    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, positions: UnsafePointer<Int32>,
                 tokens: UnsafePointer<Bool>?, output: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                 probabilities: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
                 keyPositions: UnsafeMutablePointer<Int32>) {
        let (length, width) = (chunkLength, window)
        for c in 0..<chunks {
            let first = c * length
            let scores = probabilities.map { $0 + first * width } ?? scratch
            let runs = keyRuns(c)
            for run in runs {
                BLAS.sgemm(transposeA: false, transposeB: true, m: length, n: run.count, k: depth, alpha: scale,
                           a: q + first * depth, lda: depth, b: k + run.slot * depth, ldb: depth,
                           c: scores + run.column, ldc: width)
            }
            collectKeyPositions(chunk: c, positions: positions, into: keyPositions)
            for a in 0..<length {
                let row = scores + a * width, query = positions[first + a]
                for j in 0..<width {
                    if let value = replacement(query: query, key: keyPositions[j], tokens: tokens) { row[j] = value }
                }
                logSumExp[first + a] = softmaxRowInPlace(row, width)
            }
            for (index, run) in runs.enumerated() {
                BLAS.sgemm(transposeA: false, transposeB: false, m: length, n: depth, k: run.count,
                           a: scores + run.column, lda: width, b: v + run.slot * depth, ldb: depth,
                           beta: index == 0 ? 0 : 1, c: output + first * depth, ldc: depth)
            }
        }
    }

    /// Accumulates into dq, dk, dv [slots, depth] the gradients for output gradients
    /// `outputGradient` [slots, depth] and log-sum-exp gradients `logSumExpGradient` [slots].
    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, positions: UnsafePointer<Int32>,
                  tokens: UnsafePointer<Bool>?, probabilities: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  logSumExpGradient: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                  dv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, keyPositions: UnsafeMutablePointer<Int32>) {
        let (length, width) = (chunkLength, window)
        for c in 0..<chunks {
            let first = c * length
            let p = probabilities + first * width, g = outputGradient + first * depth
            // dV_kc += P_iᵀ · dO_c ; dP = dO_c · V_kcᵀ
            let runs = keyRuns(c)
            for run in runs {
                BLAS.sgemm(transposeA: true, transposeB: false, m: run.count, n: depth, k: length,
                           a: p + run.column, lda: width, b: g, ldb: depth, beta: 1, c: dv + run.slot * depth, ldc: depth)
                BLAS.sgemm(transposeA: false, transposeB: true, m: length, n: run.count, k: depth,
                           a: g, lda: depth, b: v + run.slot * depth, ldb: depth, c: scratch + run.column, ldc: width)
            }
            // dS = P ⊙ (dP − ⟨dP, P⟩ + d logsumexp), zero where the score was a constant.
            collectKeyPositions(chunk: c, positions: positions, into: keyPositions)
            for a in 0..<length {
                let row = scratch + a * width, pRow = p + a * width, query = positions[first + a]
                let shift = vectorDot(pRow, row, width) - logSumExpGradient[first + a]
                for j in 0..<width {
                    row[j] = replacement(query: query, key: keyPositions[j], tokens: tokens) == nil ? pRow[j] * (row[j] - shift) : 0
                }
            }
            // dQ_c += scale · dS_i · K_kc ; dK_kc += scale · dS_iᵀ · Q_c
            for run in runs {
                BLAS.sgemm(transposeA: false, transposeB: false, m: length, n: depth, k: run.count, alpha: scale,
                           a: scratch + run.column, lda: width, b: k + run.slot * depth, ldb: depth,
                           beta: 1, c: dq + first * depth, ldc: depth)
                BLAS.sgemm(transposeA: true, transposeB: false, m: run.count, n: depth, k: length, alpha: scale,
                           a: scratch + run.column, lda: width, b: q + first * depth, ldb: depth,
                           beta: 1, c: dk + run.slot * depth, ldc: depth)
            }
        }
    }
}

/// Copies rows `positions[s]` of `source` (`realCount` rows, `depth` wide) into row s of
/// `destination`; positions at or beyond `realCount` (internal padding) give zero rows.
func gatherRows(_ source: UnsafePointer<Float>, realCount: Int, positions: UnsafePointer<Int32>, count: Int, depth: Int,
                into destination: UnsafeMutablePointer<Float>) {
    for s in 0..<count {
        let p = Int(positions[s])
        if p < realCount {
            (destination + s * depth).update(from: source + p * depth, count: depth)
        } else {
            (destination + s * depth).update(repeating: 0, count: depth)
        }
    }
}

/// Adds row s of `source` into row `positions[s]` of `destination` for positions below
/// `realCount`: the backward of ``gatherRows(_:realCount:positions:count:depth:into:)``.
func scatterAddRows(_ source: UnsafePointer<Float>, positions: UnsafePointer<Int32>, count: Int, depth: Int, realCount: Int,
                    into destination: UnsafeMutablePointer<Float>) {
    for s in 0..<count {
        let p = Int(positions[s])
        if p < realCount { vectorAxpy(1, source + s * depth, destination + p * depth, depth) }
    }
}
