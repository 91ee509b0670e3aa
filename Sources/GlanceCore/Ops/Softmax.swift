import Foundation

extension Tensor {
    /// Softmax over one axis (the last by default). Rows that are entirely −∞ give zeros.
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        if axis != rank - 1 { return transposed(axis, -1).softmax(alongAxis: -1).transposed(axis, -1) }
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                out.baseAddress!.update(from: source.baseAddress!, count: count)
                let o = SendablePointer(out.baseAddress!)
                parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                    for r in range { softmaxRowInPlace(o.base + r * width, width) }
                }
            }
        }
        return y.recorded(from: [self]) { g in
            [Tensor(shape: y.shape) { dx in
                y.withUnsafeBufferPointer { yb in
                    g.withUnsafeBufferPointer { gb in
                        let py = SendablePointer(UnsafeMutablePointer(mutating: yb.baseAddress!))
                        let pg = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!))
                        let px = SendablePointer(dx.baseAddress!)
                        parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                            for r in range {
                                softmaxBackwardRow(y: py.base + r * width, dy: pg.base + r * width, dx: px.base + r * width, width)
                            }
                        }
                    }
                }
            }]
        }
    }

    /// log(softmax(x)) over one axis (the last by default), computed stably.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        if axis != rank - 1 { return transposed(axis, -1).logSoftmax(alongAxis: -1).transposed(axis, -1) }
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                    for r in range {
                        let row = o.base + r * width
                        row.update(from: x.base + r * width, count: width)
                        let normalizer = softmaxRowInPlace(row, width)
                        let input = x.base + r * width
                        for j in 0..<width { row[j] = input[j] - normalizer }
                    }
                }
            }
        }
        return y.recorded(from: [self]) { g in
            // dx = dy − softmax · Σ dy
            let probabilities = exp(y)
            return [g - probabilities * g.sum(alongAxis: -1, keepingDimensions: true)]
        }
    }
}
