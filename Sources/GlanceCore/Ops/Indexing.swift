/// Integer indices with a shape, for gathers and scatters.
public struct IndexTensor: Sendable, Equatable {
    public let shape: [Int]
    public let values: [Int]

    public init(_ values: [Int], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) indices do not fill shape \(shape)")
        self.values = values
        self.shape = shape
    }

    public init(_ values: [Int]) { self.init(values, shape: [values.count]) }
}

extension Tensor {
    /// Picks slices along `axis` by index, separately for each position of the leading axes.
    ///
    /// `indices.shape` is `shape[..<axis] + [m]` (or just `[m]`, shared by all leading
    /// positions); the result has shape `shape[..<axis] + [m] + shape[(axis+1)...]`, with
    /// `result[p, j, …] = self[p, indices[p, j], …]`. The gradient is a scatter-add.
    public func gathered(alongAxis axis: Int, indices: IndexTensor) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, extent, inner) = split(shape, at: axis)
        // Rank-1 indices are shared by every leading position; otherwise there is one row per position.
        let shared = indices.shape.count == 1
        precondition(shared || Array(indices.shape.dropLast()) == Array(shape[..<axis]),
                     "indices of shape \(indices.shape) do not match the leading axes of \(shape) at axis \(axis)")
        let m = indices.shape.last!
        precondition(indices.values.allSatisfy { $0 >= 0 && $0 < extent }, "gather index out of range 0..<\(extent) for shape \(shape)")
        let newShape = Array(shape[..<axis]) + [m] + Array(shape[(axis + 1)...])
        let y = withUnsafeBufferPointer { source in
            indices.values.withUnsafeBufferPointer { index in
                Tensor(shape: newShape) { out in
                    let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                    let idx = SendablePointer(UnsafeMutablePointer(mutating: index.baseAddress!))
                    parallelFor(outer * m, grain: Swift.max(1, 4096 / Swift.max(inner, 1))) { rows in
                        for row in rows {
                            let p = row / m, j = row % m
                            let picked = idx.base[shared ? j : row]
                            (o.base + row * inner).update(from: x.base + (p * extent + picked) * inner, count: inner)
                        }
                    }
                }
            }
        }
        return y.recorded(from: [self]) { g in [g.scatterAdding(alongAxis: axis, indices: indices, extent: extent)] }
    }

    /// The adjoint of ``gathered(alongAxis:indices:)``: a tensor with `extent` slots along
    /// `axis`, where slice j of `self` is added into slot `indices[p, j]`.
    public func scatterAdding(alongAxis axis: Int, indices: IndexTensor, extent: Int) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, m, inner) = split(shape, at: axis)
        let shared = indices.shape.count == 1
        precondition(indices.shape.last == m && (shared || indices.values.count == outer * m),
                     "indices of shape \(indices.shape) do not match \(shape) at axis \(axis)")
        precondition(indices.values.allSatisfy { $0 >= 0 && $0 < extent }, "scatter index out of range 0..<\(extent)")
        var newShape = shape
        newShape[axis] = extent
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: newShape) { out in
                out.initialize(repeating: 0)
                let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                indices.values.withUnsafeBufferPointer { index in
                    let idx = SendablePointer(UnsafeMutablePointer(mutating: index.baseAddress!))
                    // Leading positions are independent, so they split across threads safely.
                    parallelFor(outer, grain: Swift.max(1, 4096 / Swift.max(m * inner, 1))) { range in
                        for p in range {
                            for j in 0..<m {
                                let slot = idx.base[shared ? j : p * m + j]
                                vectorAxpy(1, x.base + (p * m + j) * inner, o.base + (p * extent + slot) * inner, inner)
                            }
                        }
                    }
                }
            }
        }
        return y.recorded(from: [self]) { g in [g.gathered(alongAxis: axis, indices: indices)] }
    }

    /// Rows of a `[vocabulary, width]` table for each id: the result has shape `ids.shape + [width]`.
    public func embeddingLookup(_ ids: IndexTensor) -> Tensor {
        precondition(rank == 2, "embedding table must be rank 2, got \(shape)")
        return gathered(alongAxis: 0, indices: IndexTensor(ids.values)).reshaped(to: ids.shape + [shape[1]])
    }
}
