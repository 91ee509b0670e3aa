extension Tensor {
    /// Running sums along one axis (inclusive, like `torch.cumsum`); `reverse` sums from the end.
    public func cumulativeSum(alongAxis axis: Int, reverse: Bool = false) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, extent, inner) = split(shape, at: axis)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                parallelFor(outer, grain: Swift.max(1, 8192 / Swift.max(extent * inner, 1))) { range in
                    for p in range {
                        let order = reverse ? Array((0..<extent).reversed()) : Array(0..<extent)
                        var previous: UnsafeMutablePointer<Float>? = nil
                        for e in order {
                            let input = x.base + (p * extent + e) * inner, output = o.base + (p * extent + e) * inner
                            output.update(from: input, count: inner)
                            if let previous { vectorAxpy(1, previous, output, inner) }
                            previous = output
                        }
                    }
                }
            }
        }
        return y.recorded(from: [self]) { g in [g.cumulativeSum(alongAxis: axis, reverse: !reverse)] }
    }
}
