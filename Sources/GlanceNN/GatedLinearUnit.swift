import GlanceCore

/// a ⊙ σ(b), where a and b are the first and second halves of the last axis (PyTorch's
/// `glu(dim=-1)`), as one pass over the input; the backward is one pass too, with
/// ∂/∂a = g·σ(b) and ∂/∂b = g·a·σ(b)·(1 − σ(b)). Written out rather than composed from a slice,
/// a sigmoid and a product, which would copy both halves and keep three intermediates.
public func gatedLinearUnit(_ x: Tensor) -> Tensor {
    let width = x.shape.last ?? 0
    precondition(x.rank >= 1 && width % 2 == 0, "a gated linear unit needs an even last axis, got \(x.shape)")
    let half = width / 2, rows = x.count / Swift.max(width, 1)
    let input = x.detached()
    let grain = Swift.max(1, 8192 / Swift.max(width, 1))
    let y = input.withUnsafeBufferPointer { source in
        Tensor(shape: Array(x.shape.dropLast()) + [half]) { out in
            let px = SendablePointer(source.baseAddress!), py = SendablePointer(out.baseAddress!)
            parallelFor(rows, grain: grain) { range in
                for r in range {
                    let a = px.base + r * width, b = a + half, y = py.base + r * half
                    forEachLane(half) { j in storeVector(loadVector(a + j) * logistic(loadVector(b + j)), y + j) } tail: { j in
                        y[j] = a[j] * logistic(b[j])
                    }
                }
            }
        }
    }
    return y.recorded(from: [x]) { g in
        let gradient = g.withUnsafeBufferPointer { gb in
            input.withUnsafeBufferPointer { source in
                Tensor(shape: x.shape) { out in
                    let pg = SendablePointer(gb.baseAddress!), px = SendablePointer(source.baseAddress!), pd = SendablePointer(out.baseAddress!)
                    parallelFor(rows, grain: grain) { range in
                        for r in range {
                            let a = px.base + r * width, b = a + half, gr = pg.base + r * half
                            let da = pd.base + r * width, db = da + half
                            forEachLane(half) { j in
                                let s = logistic(loadVector(b + j)), gs = loadVector(gr + j) * s
                                storeVector(gs, da + j)
                                storeVector(gs * loadVector(a + j) * (1 - s), db + j)
                            } tail: { j in
                                let s = logistic(b[j]), gs = gr[j] * s
                                da[j] = gs
                                db[j] = gs * a[j] * (1 - s)
                            }
                        }
                    }
                }
            }
        }
        return [gradient]
    }
}

@inline(__always)
private func logistic(_ x: FloatVector) -> FloatVector { 1 / (1 + fastExp(-x)) }

@inline(__always)
private func logistic(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
