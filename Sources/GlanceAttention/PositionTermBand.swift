import GlanceCore

/// A factored relative score term (``RelativeScoreTerm/Values/factored(queries:keys:scale:)``)
/// as the exact attention kernel computes it, one block of queries at a time.
///
/// Query i sees key j through column c = firstColumn − i + j (see ``DistanceIndexedRows``), so
/// a block of queries start..<end over its first V visible keys needs the consecutive columns
/// firstColumn − (end − 1) … firstColumn − start + V − 1: a band of rows + V − 1 columns, one
/// product scale · Q_block · K_bandᵀ. Row i reads the band from offset end − 1 − i, which is
/// the relative shift. The backward adds the band's gradient back with two products of the
/// same size. Per block this costs about (rows + V)/V times the ideal count of the visible
/// pairs, and nothing of size Nq × R is ever stored.
struct PositionTermBand: @unchecked Sendable {
    /// [B, Nq, H·D], heads side by side.
    let queries: HeadRows
    /// [R, H·D], shared by the batch entries.
    let keys: HeadRows
    let depth: Int
    let scale: Float
    /// R.
    let distances: Int
    /// The column of key 0 for query 0: largestDistance − M.
    let firstColumn: Int

    /// Elements per band row for blocks of up to `blockRows` queries over up to `keys` keys.
    static func stride(blockRows: Int, keys: Int) -> Int { blockRows + keys - 1 }

    /// The term column at band offset 0 of block start..<end, and the columns of the band that
    /// exist (a band may reach past the distances the term covers, where no visible pair lies).
    private func columns(start: Int, end: Int, visibleKeys: Int) -> (first: Int, existing: Range<Int>) {
        let first = firstColumn - (end - 1)
        return (first, Swift.max(first, 0)..<Swift.max(0, Swift.min(first + end - start - 1 + visibleKeys, distances)))
    }

    /// Computes the band of queries start..<end of head `head` (b·H + h) over its first
    /// `visibleKeys` keys into `band` (rows `stride` apart) and returns its rows.
    func fill(head: Int, start: Int, end: Int, visibleKeys: Int, band: UnsafeMutablePointer<Float>, stride: Int) -> DistanceIndexedRows {
        let (first, existing) = columns(start: start, end: end, visibleKeys: visibleKeys)
        if !existing.isEmpty {
            BLAS.sgemm(transposeA: false, transposeB: true, m: end - start, n: existing.count, k: depth, alpha: scale,
                       a: queries.head(head) + start * queries.stride, lda: queries.stride,
                       b: keys.head(head) + existing.lowerBound * keys.stride, ldb: keys.stride,
                       c: band + (existing.lowerBound - first), ldc: stride)
        }
        return rows(band: band, start: start, end: end, stride: stride)
    }

    /// The rows of a band of block start..<end (or of its gradient) held in `band`.
    func rows(band: UnsafeMutablePointer<Float>, start: Int, end: Int, stride: Int) -> DistanceIndexedRows {
        DistanceIndexedRows(band: band, firstQuery: start, lastQuery: end - 1, stride: stride)
    }

    /// Adds the gradient `bandGradient` of the band of block start..<end (zero off the visible
    /// pairs) into the position queries' and keys' gradients: dQ_block += scale · G·K_band and
    /// dK_band += scale · Gᵀ·Q_block.
    func backpropagate(head: Int, start: Int, end: Int, visibleKeys: Int, bandGradient: UnsafeMutablePointer<Float>, stride: Int,
                       into gradients: PositionTermGradients) {
        let (first, existing) = columns(start: start, end: end, visibleKeys: visibleKeys)
        guard !existing.isEmpty else { return }
        let (rows, band) = (end - start, bandGradient + (existing.lowerBound - first))
        let (queryBlock, keyBand) = (queries.head(head) + start * queries.stride, keys.head(head) + existing.lowerBound * keys.stride)
        let (dq, dk) = (gradients.queries, gradients.keys)
        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: depth, k: existing.count, alpha: scale,
                   a: band, lda: stride, b: keyBand, ldb: keys.stride,
                   beta: 1, c: dq.head(head) + start * dq.stride, ldc: dq.stride)
        BLAS.sgemm(transposeA: true, transposeB: false, m: existing.count, n: depth, k: rows, alpha: scale,
                   a: band, lda: stride, b: queryBlock, ldb: queries.stride,
                   beta: 1, c: dk.head(head) + existing.lowerBound * dk.stride, ldc: dk.stride)
    }
}

/// Where the kernel's backward adds the gradients of a factored term: the position queries
/// [B, Nq, H·D] and one [R, H·D] block of position-key gradients per batch entry (threads take
/// whole heads, so batch entries must not share one), summed afterwards.
struct PositionTermGradients: @unchecked Sendable {
    let queries: HeadRows
    let keys: HeadRows
}
