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
/// with a hand-written backward (to x only). The map is ``FeatureMap``'s:
/// softmax: φ(x) = m^−½ (exp(W·x̂ − |x̂|²/2 − s) + ε), x̂ = x·d^−¼, ε = 1e-4, s per ``FeatureStabilizer``;
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
    let slices = batch * heads
    let rowBlock = 128
    let blocks = (n + rowBlock - 1) / rowBlock
    /// Whether row `start + r` of `slice` is a padded key.
    func padding(_ slice: Int, _ start: Int) -> (Int) -> Bool {
        guard let mask = keyPadding?[slice / heads] else { return { _ in false } }
        return { !mask[start + $0] }
    }
    let output = Tensor(shape: [batch, heads, n, m]) { out in
        x.withUnsafeBufferPointer { xb in
            projection.withUnsafeBufferPointer { wb in
                let map = FeatureMap(projection: wb.baseAddress!, features: m, dimensions: d, kernel: kernel, role: role,
                                     stabilizer: stabilizer)
                let (px, po) = (SendablePointer(xb.baseAddress!), SendablePointer(out.baseAddress!))
                parallelFor(slices * blocks) { tasks in
                    for task in tasks {
                        let slice = task / blocks, start = (task % blocks) * rowBlock
                        let base = slice * n + start
                        map.project(px.base + base * d, rows: Swift.min(rowBlock, n - start), into: po.base + base * m)
                    }
                }
                // performer-pytorch's key stabilizer: the maximum over every unpadded key and feature of the slice.
                var shifts = [Float](repeating: map.boundShift, count: slices)
                if kernel == .softmax && role == .key && stabilizer == .reference {
                    for slice in 0..<slices {
                        let isPadded = padding(slice, 0)
                        var best = -Float.infinity
                        for j in 0..<n where !isPadded(j) { best = Swift.max(best, vectorMax(po.base + (slice * n + j) * m, m)) }
                        shifts[slice] = best.isFinite ? best : 0
                    }
                }
                parallelFor(slices * blocks) { tasks in
                    for task in tasks {
                        let slice = task / blocks, start = (task % blocks) * rowBlock
                        let base = slice * n + start
                        map.activate(px.base + base * d, rows: Swift.min(rowBlock, n - start), po.base + base * m,
                                     keyShift: shifts[slice], padded: padding(slice, start))
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
                            let map = FeatureMap(projection: wb.baseAddress!, features: m, dimensions: d, kernel: kernel, role: role,
                                                 stabilizer: stabilizer)
                            let (px, pf, pg, pd) = (SendablePointer(xb.baseAddress!), SendablePointer(fb.baseAddress!),
                                                    SendablePointer(gb.baseAddress!), SendablePointer(dxb.baseAddress!))
                            parallelFor(slices * blocks) { tasks in
                                let gradient = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rowBlock * m)
                                defer { gradient.deallocate() }
                                for task in tasks {
                                    let slice = task / blocks, start = (task % blocks) * rowBlock
                                    let rows = Swift.min(rowBlock, n - start)
                                    let base = slice * n + start
                                    gradient.update(from: pg.base + base * m, count: rows * m)
                                    map.backward(px.base + base * d, features: pf.base + base * m, gradient: gradient, rows: rows,
                                                 padded: padding(slice, start), scratch: gradient + rowBlock * m,
                                                 dx: pd.base + base * d)
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
