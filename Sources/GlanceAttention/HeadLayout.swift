import GlanceCore

/// Where the rows of each head of an attention operand lie in its buffer: row i of head h
/// in batch entry b starts at `offset + b·batchStride + h·headStride + i·rowStride`.
///
/// Head-major [B, H, N, D] tensors and the [B, N, H·D] output of a projection (heads side by
/// side in each row, possibly next to other projections' columns) are both such layouts, so
/// the exact attention kernel reads either through BLAS leading dimensions, without copies.
struct HeadLayout: Sendable {
    let offset, batchStride, headStride, rowStride: Int

    /// A [B, H, rows, width] tensor.
    static func headMajor(heads: Int, rows: Int, width: Int) -> HeadLayout {
        HeadLayout(offset: 0, batchStride: heads * rows * width, headStride: rows * width, rowStride: width)
    }

    /// Heads of `width` columns side by side from column `offset` of a [B, rows, rowWidth] tensor.
    static func packed(rows: Int, rowWidth: Int, width: Int, offset: Int) -> HeadLayout {
        HeadLayout(offset: offset, batchStride: rows * rowWidth, headStride: width, rowStride: rowWidth)
    }

    /// Heads of `width` columns side by side in the rows of one [rows, rowWidth] matrix that
    /// every batch entry shares.
    static func sharedByBatch(rowWidth: Int, width: Int) -> HeadLayout {
        HeadLayout(offset: 0, batchStride: 0, headStride: width, rowStride: rowWidth)
    }
}

/// A buffer read (or written) through a ``HeadLayout`` for `heads` heads per batch entry.
struct HeadRows: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let layout: HeadLayout
    let heads: Int

    /// The first row of head `index` = b·H + h; rows follow every ``stride`` elements.
    func head(_ index: Int) -> UnsafeMutablePointer<Float> {
        base + layout.offset + (index / heads) * layout.batchStride + (index % heads) * layout.headStride
    }

    /// Elements from one row to the next (BLAS's leading dimension).
    var stride: Int { layout.rowStride }
}
