import GlanceCore

/// Per-channel statistics of a batch normalization: the biased variance (divided by `frames`).
struct ChannelStatistics {
    var frames: Float
    var mean: [Float]
    var variance: [Float]
}

/// Batch normalization of `input` [rows…, channels], channels last, with the operation written
/// out: y = (x − μ)·s·γ + β, s = 1/√(σ² + ε). With `statistics` nil (training) μ and σ² are
/// taken over the rows that `validFrames` (one 0/1 per row, nil: all) marks, two passes over the
/// input, and the backward carries their gradient:
///
///     ∂x = γ·s·(g − m/N·(Σg + x̂·Σg·x̂)),   ∂γ = Σg·x̂,   ∂β = Σg,
///
/// sums over every row, m the row's mask and N the valid rows; given `statistics` (evaluation)
/// they are constants and ∂x = γ·s·g. Each pass splits the rows across threads with per-thread
/// channel sums added in thread order, so results are deterministic for a thread count.
/// Returns the output and the statistics used.
func batchNormalized(_ input: Tensor, weight: Tensor, bias: Tensor, validFrames: Tensor?, statistics: ChannelStatistics?,
                     epsilon: Float) -> (output: Tensor, statistics: ChannelStatistics) {
    let channels = weight.count, rows = input.count / channels
    let x = input.detached(), mask = validFrames?.detached()
    let used = statistics ?? x.withUnsafeBufferPointer { xb in
        withOptionalPointer(mask) { m in batchStatistics(xb.baseAddress!, mask: m, rows: rows, channels: channels) }
    }
    let inverse = used.variance.map { 1 / ($0 + epsilon).squareRoot() }
    let gamma = weight.detached().scalars, beta = bias.detached().scalars
    let scale = zip(inverse, gamma).map { $0 * $1 }
    let shift = (0..<channels).map { beta[$0] - used.mean[$0] * scale[$0] }
    let output = x.withUnsafeBufferPointer { xb in
        Tensor(shape: input.shape) { out in
            let px = SendablePointer(xb.baseAddress!), py = SendablePointer(out.baseAddress!)
            scale.withUnsafeBufferPointer { a in
                shift.withUnsafeBufferPointer { b in
                    let pa = SendablePointer(a.baseAddress!), pb = SendablePointer(b.baseAddress!)
                    parallelFor(rows, grain: rowGrain(channels)) { range in
                        for r in range { scaleAndShift(px.base + r * channels, pa.base, pb.base, into: py.base + r * channels, channels) }
                    }
                }
            }
        }
    }
    let training = statistics == nil
    let recorded = output.recorded(from: [input, weight, bias]) { g in
        let sums = g.withUnsafeBufferPointer { gb in
            x.withUnsafeBufferPointer { xb in
                gradientSums(gb.baseAddress!, xb.baseAddress!, mean: used.mean, inverse: inverse, rows: rows, channels: channels)
            }
        }
        let gradInput = input.requiresGradient ? g.withUnsafeBufferPointer { gb in
            x.withUnsafeBufferPointer { xb in
                withOptionalPointer(training ? mask : nil) { m in
                    Tensor(shape: input.shape) { out in
                        inputGradient(gb.baseAddress!, xb.baseAddress!, mask: m, training: training, frames: used.frames, mean: used.mean,
                                      inverse: inverse, scale: scale, sums: sums, into: out.baseAddress!, rows: rows, channels: channels)
                    }
                }
            }
        } : nil
        return [gradInput, Tensor(sums.gradientTimesNormalized, shape: [channels]), Tensor(sums.gradient, shape: [channels])]
    }
    return (recorded, used)
}

/// Rows per thread task: about 8,192 floats.
private func rowGrain(_ channels: Int) -> Int { Swift.max(1, 8192 / Swift.max(channels, 1)) }

/// Mean and biased variance over the masked rows: a pass for the mean, one for the centred squares.
private func batchStatistics(_ x: UnsafePointer<Float>, mask: UnsafePointer<Float>?, rows: Int, channels: Int) -> ChannelStatistics {
    let frames = mask.map { m in (0..<rows).reduce(Float(0)) { $0 + m[$1] } } ?? Float(rows)
    precondition(frames > 0, "batch normalization in training needs at least one valid frame")
    let px = SendablePointer(x), pm = mask.map { SendablePointer($0) }
    let mean = channelSums(rows: rows, channels: channels, count: 1) { r, sums in
        if let pm, pm.base[r] == 0 { return }
        vectorAxpy(1, px.base + r * channels, sums, channels)
    }[0].map { $0 / frames }
    let variance = mean.withUnsafeBufferPointer { mu in
        let pmu = SendablePointer(mu.baseAddress!)
        return channelSums(rows: rows, channels: channels, count: 1) { r, sums in
            if let pm, pm.base[r] == 0 { return }
            let row = px.base + r * channels
            forEachLane(channels) { c in
                let d = loadVector(row + c) - loadVector(pmu.base + c)
                storeVector(loadVector(sums + c).addingProduct(d, d), sums + c)
            } tail: { c in
                let d = row[c] - pmu.base[c]
                sums[c] += d * d
            }
        }[0].map { $0 / frames }
    }
    return ChannelStatistics(frames: frames, mean: mean, variance: variance)
}

/// Σg and Σg·x̂ per channel over every row.
private func gradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: [Float], inverse: [Float], rows: Int,
                          channels: Int) -> (gradient: [Float], gradientTimesNormalized: [Float]) {
    let (pg, px) = (SendablePointer(g), SendablePointer(x))
    let sums = mean.withUnsafeBufferPointer { mu in
        inverse.withUnsafeBufferPointer { inv in
            let (pmu, pinv) = (SendablePointer(mu.baseAddress!), SendablePointer(inv.baseAddress!))
            return channelSums(rows: rows, channels: channels, count: 2) { r, sums in
                let gr = pg.base + r * channels, xr = px.base + r * channels, products = sums + channels
                forEachLane(channels) { c in
                    let gv = loadVector(gr + c), normalized = (loadVector(xr + c) - loadVector(pmu.base + c)) * loadVector(pinv.base + c)
                    storeVector(loadVector(sums + c) + gv, sums + c)
                    storeVector(loadVector(products + c).addingProduct(gv, normalized), products + c)
                } tail: { c in
                    sums[c] += gr[c]
                    products[c] += gr[c] * (xr[c] - pmu.base[c]) * pinv.base[c]
                }
            }
        }
    }
    return (sums[0], sums[1])
}

/// ∂x row by row (see ``batchNormalized(_:weight:bias:validFrames:statistics:epsilon:)``).
private func inputGradient(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mask: UnsafePointer<Float>?, training: Bool,
                           frames: Float, mean: [Float], inverse: [Float], scale: [Float],
                           sums: (gradient: [Float], gradientTimesNormalized: [Float]), into dx: UnsafeMutablePointer<Float>,
                           rows: Int, channels: Int) {
    let (pg, px, pdx, pm) = (SendablePointer(g), SendablePointer(x), SendablePointer(dx), mask.map { SendablePointer($0) })
    // With m/N folded in: ∂x = scale·g − m·(scale/N·Σg + x̂·scale/N·Σg·x̂).
    let meanTerm = (0..<channels).map { training ? scale[$0] * sums.gradient[$0] / frames : 0 }
    let normalizedTerm = (0..<channels).map { training ? scale[$0] * sums.gradientTimesNormalized[$0] / frames : 0 }
    let packed = Array([mean, inverse, scale, meanTerm, normalizedTerm].joined())
    packed.withUnsafeBufferPointer { table in
        let pt = SendablePointer(table.baseAddress!)
        parallelFor(rows, grain: rowGrain(channels)) { range in
            let (mu, inv, a, k0, k1) = (pt.base, pt.base + channels, pt.base + 2 * channels, pt.base + 3 * channels, pt.base + 4 * channels)
            for r in range {
                let gr = pg.base + r * channels, xr = px.base + r * channels, out = pdx.base + r * channels
                let m: Float = training ? pm.map { $0.base[r] } ?? 1 : 0
                let mv = FloatVector(repeating: m)
                forEachLane(channels) { c in
                    let normalized = (loadVector(xr + c) - loadVector(mu + c)) * loadVector(inv + c)
                    let correction = loadVector(k0 + c).addingProduct(normalized, loadVector(k1 + c))
                    storeVector(loadVector(a + c) * loadVector(gr + c) - mv * correction, out + c)
                } tail: { c in
                    let normalized = (xr[c] - mu[c]) * inv[c]
                    out[c] = a[c] * gr[c] - m * (k0[c] + normalized * k1[c])
                }
            }
        }
    }
}

/// y = x·a + b over one row of channels.
@inline(__always)
private func scaleAndShift(_ x: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           into y: UnsafeMutablePointer<Float>, _ channels: Int) {
    forEachLane(channels) { c in storeVector(loadVector(b + c).addingProduct(loadVector(x + c), loadVector(a + c)), y + c) } tail: { c in
        y[c] = x[c] * a[c] + b[c]
    }
}

/// `count` vectors of channel sums over all rows: `body(row, sums)` adds row `row` into `sums`
/// (count × channels floats); rows are split across threads, each with its own sums, and the
/// threads' sums are added in thread order.
private func channelSums(rows: Int, channels: Int, count: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) -> [[Float]] {
    let width = count * channels
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: Threading.count * width)
    partials.initialize(repeating: 0, count: Threading.count * width)
    defer { partials.deallocate() }
    let pp = SendablePointer(partials)
    let used = parallelChunks(rows, grain: rowGrain(channels)) { chunk, range in
        for r in range { body(r, pp.base + chunk * width) }
    }
    for chunk in 1..<Swift.max(used, 1) { vectorAxpy(1, partials + chunk * width, partials, width) }
    return (0..<count).map { Array(UnsafeBufferPointer(start: partials + $0 * channels, count: channels)) }
}
