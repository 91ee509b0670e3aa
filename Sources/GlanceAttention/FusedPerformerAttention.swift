import GlanceCore

/// FAVOR+ attention of per-head queries, keys and values [B, H, n, d] with the feature maps
/// fused into the linear-attention kernel: the features of each block of rows are computed
/// when the kernel needs them, in the forward and again in the backward, and never stored.
/// Memory is O(n·d) per head instead of the O(n·m) of ``performerFeatures`` followed by
/// ``linearAttention(queryFeatures:keyFeatures:values:causal:epsilon:)``, which it equals.
///
/// Keys use the `.projectionBound` stabilizer (each key's features depend on that key alone,
/// as block-by-block computation requires). Gradients flow to q, k and v; the projection
/// [m, d] is a constant. `keyPadding[b][j] == false` removes key j of batch entry b.
public func fusedPerformerAttention(queries q: Tensor, keys k: Tensor, values v: Tensor, projection: Tensor,
                                   kernel: PerformerKernel = .softmax, causal: Bool, keyPadding: [[Bool]]? = nil) -> Tensor {
    precondition(q.rank == 4 && k.shape == q.shape && v.rank == 4 && Array(v.shape.prefix(3)) == Array(q.shape.prefix(3)),
                 "fusedPerformerAttention expects q, k [B, H, n, d] and v [B, H, n, dv], got \(q.shape), \(k.shape), \(v.shape)")
    let (batch, heads, n, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    precondition(projection.rank == 2 && projection.shape[1] == d, "projection \(projection.shape) does not match d = \(d)")
    if let keyPadding {
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == n }, "key padding mask must be \(batch) × \(n)")
    }
    let m = projection.shape[0]
    let attention = LinearAttentionKernel(slices: batch * heads, n: n, m: m, d: v.shape[3], causal: causal, epsilon: nil)
    let recording = GradientMode.isRecording && (q.requiresGradient || k.requiresGradient || v.requiresGradient)
    let denominators = TensorStorage(count: batch * heads * n)
    let (qd, kd, vd, w) = (q.detached(), k.detached(), v.detached(), projection.detached())

    /// Runs `body` with the feature source over q and k (and their gradients, when given).
    func withSource(queryGradient: UnsafeMutablePointer<Float>? = nil, keyGradient: UnsafeMutablePointer<Float>? = nil,
                    _ body: (FusedFeatures) -> Void) {
        qd.withUnsafeBufferPointer { qb in
            kd.withUnsafeBufferPointer { kb in
                w.withUnsafeBufferPointer { wb in
                    let map = { (role: FeatureRole) in
                        FeatureMap(projection: wb.baseAddress!, features: m, dimensions: d, kernel: kernel, role: role,
                                   stabilizer: .projectionBound)
                    }
                    body(FusedFeatures(queryMap: map(.query), keyMap: map(.key), queries: qb.baseAddress!, keys: kb.baseAddress!,
                                       n: n, d: d, heads: heads, keyPadding: keyPadding,
                                       queryGradient: queryGradient, keyGradient: keyGradient))
                }
            }
        }
    }

    let output = Tensor(shape: [batch, heads, n, v.shape[3]]) { out in
        vd.withUnsafeBufferPointer { vb in
            withSource { source in
                attention.forward(source, values: vb.baseAddress!, out: out.baseAddress!, denominators: denominators.pointer)
            }
        }
    }
    guard recording else { return output }
    return output.recorded(from: [q, k, v]) { g in
        var dq = Tensor.zeros(q.shape), dk = Tensor.zeros(k.shape), dv = Tensor.zeros(v.shape)
        dq.withUnsafeMutableBufferPointer { dqb in
            dk.withUnsafeMutableBufferPointer { dkb in
                withSource(queryGradient: dqb.baseAddress!, keyGradient: dkb.baseAddress!) { source in
                    attention.backward(source, values: vd, output: output, denominators: denominators.pointer, gradient: g,
                                       valueGradient: &dv)
                }
            }
        }
        return [dq, dk, dv]
    }
}

/// Features computed block by block from per-head inputs [slices, n, d]; their gradients are
/// carried straight through the feature map into the inputs' gradients.
struct FusedFeatures: FeatureSource {
    let queryMap: FeatureMap, keyMap: FeatureMap
    let queries: UnsafePointer<Float>, keys: UnsafePointer<Float>
    let n: Int, d: Int, heads: Int
    let keyPadding: [[Bool]]?
    let queryGradient: UnsafeMutablePointer<Float>?, keyGradient: UnsafeMutablePointer<Float>?

    private func map(_ role: FeatureRole) -> FeatureMap { role == .query ? queryMap : keyMap }

    private func rows(_ role: FeatureRole, slice: Int, start: Int) -> UnsafePointer<Float> {
        (role == .query ? queries : keys) + (slice * n + start) * d
    }

    private func padding(_ role: FeatureRole, slice: Int, start: Int) -> (Int) -> Bool {
        guard role == .key, let mask = keyPadding?[slice / heads] else { return { _ in false } }
        return { !mask[start + $0] }
    }

    func features(_ role: FeatureRole, slice: Int, start: Int, rows count: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let x = rows(role, slice: slice, start: start), map = map(role)
        map.project(x, rows: count, into: buffer)
        map.activate(x, rows: count, buffer, keyShift: map.boundShift, padded: padding(role, slice: slice, start: start))
        return UnsafePointer(buffer)
    }

    func gradientDestination(_ role: FeatureRole, slice: Int, start: Int, rows: Int,
                             buffer: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { buffer }

    func gradientComplete(_ role: FeatureRole, slice: Int, start: Int, rows count: Int, features: UnsafePointer<Float>,
                          gradient: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let target = (role == .query ? queryGradient! : keyGradient!) + (slice * n + start) * d
        map(role).backward(rows(role, slice: slice, start: start), features: features, gradient: gradient, rows: count,
                           padded: padding(role, slice: slice, start: start), scratch: scratch, dx: target)
    }
}
