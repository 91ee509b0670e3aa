import GlanceCore

/// A mechanism that approximates exact softmax attention, so that its fidelity can be
/// measured (`glance bench --fidelity`). Conform a mechanism by exposing its attention core:
/// the part between the input projections and the output projection.
public protocol ApproximateAttention: AttentionMechanism {
    /// The mechanism's approximation of softmax(q·kᵀ/√d)·v for per-head queries, keys and
    /// values [batch, heads, n, d], using the layer's own parameters (projections, features…).
    func approximateAttention(queries: Tensor, keys: Tensor, values: Tensor, mask: AttentionMask) -> Tensor
    /// Mechanism settings to report with the error (e.g. ["k": 256] or ["features": 256]).
    var approximationSettings: [String: Int] { get }
}

/// ‖approx − exact‖ / ‖exact‖ (Frobenius norms) of a mechanism's attention core against exact
/// softmax attention (``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``)
/// on the same q, k, v [batch, heads, n, d]. Computed in Double from Float outputs.
public func approximationError(of mechanism: any ApproximateAttention, queries: Tensor, keys: Tensor, values: Tensor,
                               mask: AttentionMask = .none) -> Double {
    withoutGradients {
        let approximate = mechanism.approximateAttention(queries: queries, keys: keys, values: values, mask: mask)
        let exact = scaledDotProductAttention(queries: queries, keys: keys, values: values, causal: mask.causal, keyPadding: mask.keyPadding)
        precondition(approximate.shape == exact.shape, "approximation shape \(approximate.shape) differs from exact \(exact.shape)")
        var difference = 0.0, norm = 0.0
        approximate.withUnsafeBufferPointer { a in
            exact.withUnsafeBufferPointer { b in
                for i in 0..<a.count {
                    let d = Double(a[i]) - Double(b[i])
                    difference += d * d
                    norm += Double(b[i]) * Double(b[i])
                }
            }
        }
        return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
    }
}

/// ``approximationError(of:queries:keys:values:mask:)`` for each of `seeds`: for each seed
/// the mechanism is built by `make` from a generator with that seed, then q and k
/// [batch, heads, length, headDimensions] are drawn from N(0, σ²) with σ =
/// `queryKeyStandardDeviation` (default 0.5, the N(0, 0.25) of the Performer paper's fidelity
/// study) and v from N(0, 1) by the same generator.
public func approximationErrors(seeds: [UInt64], batch: Int = 1, heads: Int, length: Int, headDimensions: Int,
                                mask: AttentionMask = .none, queryKeyStandardDeviation: Float = 0.5,
                                make: (inout RandomGenerator) throws -> any ApproximateAttention) rethrows -> [Double] {
    try seeds.map { seed in
        var generator = RandomGenerator(seed: seed)
        let mechanism = try make(&generator)
        let shape = [batch, heads, length, headDimensions]
        let q = Tensor.randomNormal(shape: shape, standardDeviation: queryKeyStandardDeviation, generator: &generator)
        let k = Tensor.randomNormal(shape: shape, standardDeviation: queryKeyStandardDeviation, generator: &generator)
        let v = Tensor.randomNormal(shape: shape, generator: &generator)
        return approximationError(of: mechanism, queries: q, keys: k, values: v, mask: mask)
    }
}
