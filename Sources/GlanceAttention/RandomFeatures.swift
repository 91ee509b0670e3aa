import Foundation
import GlanceCore

/// The kernel a Performer approximates with random features.
public enum PerformerKernel: String, Sendable, CaseIterable {
    /// softmax(q·k/√d) through positive random features (FAVOR+).
    case softmax
    /// The generalized kernel relu(W·x/d^¼) + 0.001 (Performer-ReLU).
    case relu
}

/// How the exponentials of the softmax features are kept in range. The shift of the query
/// features cancels in the normalization; the shift of the key features must be common to
/// all keys a query sees.
public enum FeatureStabilizer: Sendable, Equatable {
    /// performer-pytorch's: queries shifted by their own row maximum, keys by the maximum
    /// over every key and feature of the head. Under causal masking that maximum lets
    /// later keys influence earlier outputs through the ε term; use it for parity only.
    case reference
    /// Queries as in the reference; keys by a constant S that depends only on the projection:
    /// w·x − |x|²/2 ≤ |w|²/2 bounds every exponent, so S = max(0, max_l |w_l|²/2 − 60), and
    /// ε is scaled by e^−S with the exponentials, so that the features equal
    /// e^−S · m^−½ (exp(W·x̂ − |x̂|²/2) + ε) and the shift cancels exactly. Each key's features
    /// depend on that key alone (causal-safe) and nothing overflows. With very wide heads
    /// (d ≳ 200) S can push typical features below Float's range.
    case projectionBound
}

/// An m × d matrix of random projections for Performer features.
///
/// `orthogonal`: rows come from ⌈m/d⌉ independent Haar-random orthogonal d × d blocks (the last
/// block truncated), each row rescaled to the norm of an independent Gaussian vector in ℝᵈ
/// (a chi(d) draw), as in the paper and performer-pytorch's default (`scaling = 0`).
/// Otherwise: plain i.i.d. N(0, 1) entries.
public func performerProjection(features m: Int, dimensions d: Int, orthogonal: Bool,
                                generator: inout RandomGenerator) -> Tensor {
    precondition(m >= 1 && d >= 1, "projection needs m ≥ 1 and d ≥ 1, got \(m) × \(d)")
    guard orthogonal else { return .randomNormal(shape: [m, d], generator: &generator) }
    var rows = [Float](repeating: 0, count: m * d)
    var filled = 0
    while filled < m {
        // Gram–Schmidt on a Gaussian square matrix gives a Haar-distributed orthogonal
        // matrix (R with a positive diagonal); its rows are the block's directions.
        var block = [Double](repeating: 0, count: d * d)
        for i in block.indices { block[i] = Double(generator.nextNormal()) }
        for r in 0..<d {
            for _ in 0..<2 {  // twice for orthogonality to working precision
                for p in 0..<r {
                    var dot = 0.0
                    for c in 0..<d { dot += block[r * d + c] * block[p * d + c] }
                    for c in 0..<d { block[r * d + c] -= dot * block[p * d + c] }
                }
            }
            var norm = 0.0
            for c in 0..<d { norm += block[r * d + c] * block[r * d + c] }
            norm = norm.squareRoot()
            for c in 0..<d { block[r * d + c] /= norm }
        }
        let take = Swift.min(d, m - filled)
        for r in 0..<take { for c in 0..<d { rows[(filled + r) * d + c] = Float(block[r * d + c]) } }
        filled += take
    }
    for r in 0..<m {
        var norm: Float = 0
        for _ in 0..<d { let g = generator.nextNormal(); norm += g * g }
        let scale = norm.squareRoot()
        for c in 0..<d { rows[r * d + c] *= scale }
    }
    return Tensor(rows, shape: [m, d])
}

/// Which side of attention a feature map is computed for.
public enum FeatureRole: Sendable { case query, key }

/// Random features φ(x) [B, H, n, m] of x [B, H, n, d] with projection W [m, d] (a constant),
/// with a hand-written backward (to x only).
///
/// softmax: φ(x) = m^−½ (exp(W·x̂ − |x̂|²/2 − s) + ε), x̂ = x·d^−¼, ε = 1e-4, s per ``FeatureStabilizer``.
/// relu: φ(x) = relu(W·x̂) + 0.001.
/// `keyPadding[b][j] == false` (keys only) makes row j of batch entry b exactly zero, so that a
/// padded key adds nothing to any numerator or denominator, and keeps it out of the stabilizer.
public func performerFeatures(_ x: Tensor, projection: Tensor, kernel: PerformerKernel, role: FeatureRole,
                              stabilizer: FeatureStabilizer = .reference,
                              keyPadding: [[Bool]]? = nil) -> Tensor {
    precondition(x.rank == 4, "performerFeatures expects [B, H, n, d], got \(x.shape)")
    let (batch, heads, n, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(projection.rank == 2 && projection.shape[1] == d, "projection \(projection.shape) does not match d = \(d)")
    let m = projection.shape[0]
    if let keyPadding {
        precondition(role == .key, "only keys take a padding mask")
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == n }, "key padding mask must be \(batch) × \(n)")
    }
    let c = Float(1) / Float(d).squareRoot().squareRoot()
    let ratio = Float(1) / Float(m).squareRoot()
    let epsilon: Float = kernel == .softmax ? 1e-4 : 1e-3
    let slices = batch * heads
    let rowBlock = 128
    let blocks = (n + rowBlock - 1) / rowBlock
    // Constant key shift of the projection-bound stabilizer.
    var boundShift: Float = 0
    if kernel == .softmax && role == .key && stabilizer == .projectionBound {
        projection.withUnsafeBufferPointer { w in
            for l in 0..<m { boundShift = Swift.max(boundShift, vectorDot(w.baseAddress! + l * d, w.baseAddress! + l * d, d) / 2 - 60) }
        }
    }
    // ε as added to the shifted exponentials.
    let shiftedEpsilon = role == .key && stabilizer == .projectionBound ? epsilon * Foundation.exp(-boundShift) : epsilon
    var rowMax = [Float](repeating: -.infinity, count: slices * n)
    let output = Tensor(shape: [batch, heads, n, m]) { out in
        x.withUnsafeBufferPointer { xb in
            projection.withUnsafeBufferPointer { wb in
                rowMax.withUnsafeMutableBufferPointer { rm in
                    let (px, pw, po, pm) = (SendablePointer(xb.baseAddress!), SendablePointer(wb.baseAddress!),
                                            SendablePointer(out.baseAddress!), SendablePointer(rm.baseAddress!))
                    // Phase 1: projections and row maxima.
                    parallelFor(slices * blocks) { tasks in
                        for task in tasks {
                            let slice = task / blocks, start = (task % blocks) * rowBlock
                            let rows = Swift.min(rowBlock, n - start)
                            let base = slice * n + start
                            BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: d, alpha: c,
                                       a: px.base + base * d, lda: d, b: pw.base, ldb: d, c: po.base + base * m, ldc: m)
                            if kernel == .softmax {
                                for r in 0..<rows { pm.base[base + r] = vectorMax(po.base + (base + r) * m, m) }
                            }
                        }
                    }
                    // Shift per slice for the reference key stabilizer.
                    var sliceShift = [Float](repeating: 0, count: slices)
                    if kernel == .softmax && role == .key && stabilizer == .reference {
                        for slice in 0..<slices {
                            let mask = keyPadding?[slice / heads]
                            var best = -Float.infinity
                            for j in 0..<n where mask?[j] ?? true { best = Swift.max(best, pm.base[slice * n + j]) }
                            sliceShift[slice] = best.isFinite ? best : 0
                        }
                    }
                    // Phase 2: the feature map, in place.
                    sliceShift.withUnsafeBufferPointer { shifts in
                        let ps = SendablePointer(shifts.baseAddress!)
                        parallelFor(slices * blocks) { tasks in
                            for task in tasks {
                                let slice = task / blocks, start = (task % blocks) * rowBlock
                                let rows = Swift.min(rowBlock, n - start)
                                let mask = keyPadding?[slice / heads]
                                for r in 0..<rows {
                                    let index = slice * n + start + r
                                    let row = po.base + index * m
                                    if let mask, !mask[start + r] { row.update(repeating: 0, count: m); continue }
                                    switch kernel {
                                    case .relu:
                                        var l = 0
                                        let e = FloatVector(repeating: epsilon)
                                        while l + 16 <= m {
                                            let v = loadVector(row + l)
                                            storeVector(v.replacing(with: 0, where: v .< 0) + e, row + l)
                                            l += 16
                                        }
                                        while l < m { row[l] = Swift.max(row[l], 0) + epsilon; l += 1 }
                                    case .softmax:
                                        let xr = px.base + index * d
                                        let half = c * c * vectorDot(xr, xr, d) / 2
                                        let shift: Float
                                        switch role {
                                        case .query: shift = pm.base[index]
                                        case .key: shift = stabilizer == .reference ? ps.base[slice] : boundShift
                                        }
                                        let offset = FloatVector(repeating: half + shift)
                                        let e = FloatVector(repeating: shiftedEpsilon), scale = FloatVector(repeating: ratio)
                                        var l = 0
                                        while l + 16 <= m {
                                            storeVector(scale * (fastExp(loadVector(row + l) - offset) + e), row + l)
                                            l += 16
                                        }
                                        while l < m { row[l] = ratio * (fastExp(row[l] - half - shift) + shiftedEpsilon); l += 1 }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let xd = x.detached(), w = projection.detached(), phi = output
    return output.recorded(from: [x]) { g in
        let dx = Tensor(shape: x.shape) { dxb in
            xd.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    phi.withUnsafeBufferPointer { fb in
                        g.withUnsafeBufferPointer { gb in
                            let (px, pw, pf, pg, pd) = (SendablePointer(xb.baseAddress!), SendablePointer(wb.baseAddress!),
                                                        SendablePointer(fb.baseAddress!), SendablePointer(gb.baseAddress!),
                                                        SendablePointer(dxb.baseAddress!))
                            parallelFor(slices * blocks) { tasks in
                                let dp = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * m)
                                defer { dp.deallocate() }
                                for task in tasks {
                                    let slice = task / blocks, start = (task % blocks) * rowBlock
                                    let rows = Swift.min(rowBlock, n - start)
                                    let base = slice * n + start
                                    let mask = keyPadding?[slice / heads]
                                    if kernel == .relu {
                                        // Recompute the projection for the sign of each entry.
                                        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: d, alpha: c,
                                                   a: px.base + base * d, lda: d, b: pw.base, ldb: d, c: dp, ldc: m)
                                    }
                                    var rowSums = [Float](repeating: 0, count: rows)
                                    for r in 0..<rows {
                                        let dr = dp + r * m, gr = pg.base + (base + r) * m, fr = pf.base + (base + r) * m
                                        if let mask, !mask[start + r] { dr.update(repeating: 0, count: m); continue }
                                        switch kernel {
                                        case .relu:
                                            for l in 0..<m { dr[l] = dr[l] > 0 ? gr[l] : 0 }
                                        case .softmax:
                                            // dφ/d(exponent) = φ − m^−½ ε.
                                            let shift = ratio * shiftedEpsilon
                                            var total: Float = 0
                                            for l in 0..<m { let v = gr[l] * (fr[l] - shift); dr[l] = v; total += v }
                                            rowSums[r] = total
                                        }
                                    }
                                    BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: d, k: m, alpha: c,
                                               a: dp, lda: m, b: pw.base, ldb: d, c: pd.base + base * d, ldc: d)
                                    if kernel == .softmax {
                                        for r in 0..<rows where rowSums[r] != 0 {
                                            vectorAxpy(-c * c * rowSums[r], px.base + (base + r) * d, pd.base + (base + r) * d, d)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
