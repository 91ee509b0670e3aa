import Foundation

extension Tensor {
    /// Layer normalization over the last axis: (x − mean) / √(var + ε) · weight + bias.
    /// `weight` and `bias` have the extent of the last axis (either may be nil).
    public func layerNormalized(weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        precondition(weight.map { $0.shape == [width] } ?? true && bias.map { $0.shape == [width] } ?? true,
                     "layer norm parameters must have shape [\(width)]; got \(weight?.shape ?? []) and \(bias?.shape ?? [])")
        var means = [Float](repeating: 0, count: rows), inverseDeviations = [Float](repeating: 0, count: rows)
        let gamma = weight?.detached(), beta = bias?.detached()
        let normalized = Tensor(shape: shape) { out in
            withUnsafeBufferPointer { source in
                means.withUnsafeMutableBufferPointer { meanBuffer in
                    inverseDeviations.withUnsafeMutableBufferPointer { inverseBuffer in
                        let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                        let mu = SendablePointer(meanBuffer.baseAddress!), inv = SendablePointer(inverseBuffer.baseAddress!)
                        parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                            for r in range {
                                let input = x.base + r * width, output = o.base + r * width
                                let mean = vectorSum(input, width) / Float(width)
                                let squares = centerRow(input, output, width, mean: mean)
                                let inverse = 1 / (squares / Float(width) + epsilon).squareRoot()
                                vectorScale(output, inverse, width)
                                mu.base[r] = mean
                                inv.base[r] = inverse
                            }
                        }
                    }
                }
            }
        }
        var y = normalized
        if let gamma { y = y.zippedRows(with: gamma) { $0 * $1 } }
        if let beta { y = y.zippedRows(with: beta) { $0 + $1 } }
        let xHat = normalized
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let inverses = inverseDeviations
        let hasWeight = weight != nil, hasBias = bias != nil
        return y.recorded(from: inputs) { g in
            // dx = inv/N · (N·ĝ − Σĝ − x̂ Σ(ĝ x̂)), with ĝ = g · weight.
            let gHat = gamma.map { g.zippedRows(with: $0) { $0 * $1 } } ?? g
            let dx = Tensor(shape: g.shape) { out in
                gHat.withUnsafeBufferPointer { gb in
                    xHat.withUnsafeBufferPointer { xb in
                        let pg = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!))
                        let px = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
                        let po = SendablePointer(out.baseAddress!)
                        inverses.withUnsafeBufferPointer { invBuffer in
                            let inv = SendablePointer(UnsafeMutablePointer(mutating: invBuffer.baseAddress!))
                            parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
                                for r in range {
                                    let gr = pg.base + r * width, xr = px.base + r * width, orow = po.base + r * width
                                    let sumG = vectorSum(gr, width), sumGX = vectorDot(gr, xr, width)
                                    let scale = inv.base[r] / Float(width)
                                    for j in 0..<width { orow[j] = scale * (Float(width) * gr[j] - sumG - xr[j] * sumGX) }
                                }
                            }
                        }
                    }
                }
            }
            var grads: [Tensor?] = [dx]
            if hasWeight { grads.append((g * xHat).reshaped(to: [rows, width]).sum(alongAxis: 0)) }
            if hasBias { grads.append(g.reshaped(to: [rows, width]).sum(alongAxis: 0)) }
            return grads
        }
    }

    /// Combines each row (last axis) with a vector of the row's width; not recorded.
    func zippedRows(with vector: Tensor, _ function: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        broadcastCombine(self, vector, function)
    }
}

/// Writes x − mean for a row of `count` floats into `output` and returns Σ (x − mean)², 16 lanes at a time.
@inline(__always)
private func centerRow(_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ count: Int, mean: Float) -> Float {
    let center = FloatVector(repeating: mean)
    var acc = FloatVector()
    var j = 0
    while j + 16 <= count {
        let d = loadVector(input + j) - center
        storeVector(d, output + j)
        acc = acc.addingProduct(d, d)
        j += 16
    }
    var squares = acc.sum()
    while j < count { let d = input[j] - mean; output[j] = d; squares += d * d; j += 1 }
    return squares
}
