import GlanceCore

/// Adaptive Span's soft mask on the probabilities of
/// ``scaledDotProductAttention(queries:keys:values:causal:keyPadding:scale:relativeScores:postSoftmaxMask:)``:
/// after the softmax, the probability of query i and key j in head h is multiplied by a
/// weight of the head and the distance d = (query position − key position), and each row is
/// renormalised, p′ᵢⱼ = pᵢⱼ·w(h, d) / (Σⱼ pᵢⱼ·w(h, d) + ε) with the authors' ε = 1e-8.
///
/// `weights` is [H, R]: column c holds the distance `largestDistance − c`, as in
/// ``RelativeScoreTerm``. Gradients reach the weights as well as q, k and v.
public struct PostSoftmaxMask: @unchecked Sendable {
    /// [H, R].
    public var weights: Tensor
    /// The distance of column 0.
    public var largestDistance: Int

    /// Added to each row's weighted sum before it divides (facebookresearch/adaptive-span).
    public static let epsilon: Float = 1e-8

    public init(weights: Tensor, largestDistance: Int) {
        precondition(weights.rank == 2, "a post-softmax mask must be [heads, distances], got \(weights.shape)")
        self.weights = weights
        self.largestDistance = largestDistance
    }

    /// The distance of the last column.
    public var smallestDistance: Int { largestDistance - weights.shape[1] + 1 }
}

/// The kernel's row operations of a ``PostSoftmaxMask``.
enum PostSoftmaxMaskRow {
    /// Multiplies the first `count` entries of `row` by the weights and returns their sum.
    static func weigh(_ row: UnsafeMutablePointer<Float>, weights w: UnsafePointer<Float>, _ count: Int) -> Float {
        var total: Float = 0
        for j in 0..<count {
            row[j] *= w[j]
            total += row[j]
        }
        return total
    }

    /// Writes p′ = p ⊙ w / s into `weighted` for the first `count` keys, s being the row's
    /// normalizer Σ p ⊙ w + ε.
    static func weighted(probabilities p: UnsafePointer<Float>, weights w: UnsafePointer<Float>, normalizer: Float,
                         into weighted: UnsafeMutablePointer<Float>, _ count: Int) {
        let inverse = 1 / normalizer
        for j in 0..<count { weighted[j] = p[j] * w[j] * inverse }
    }

    /// Backward through the mask and the softmax for the first `count` keys of a block of a
    /// row: from dp′ in `gradient` and the row's ⟨dp′, p′⟩ = rowsum(dO ∘ O) (`outputInner`,
    /// D), adds dw = du ⊙ p into `weightGradient` and replaces `gradient` by the score
    /// gradient p ⊙ (du ⊙ w − D·ε/s), where du = (dp′ − D) / s. The softmax's ⟨dp, p⟩ with
    /// dp = du ⊙ w is Σ (dp′ − D)·p′ = D·(1 − Σ p′) = D·ε/s, so the block needs no other part
    /// of the row.
    static func scoreGradient(probabilities p: UnsafePointer<Float>, weights w: UnsafePointer<Float>, normalizer: Float,
                              outputInner: Float, gradient: UnsafeMutablePointer<Float>, weightGradient: UnsafeMutablePointer<Float>,
                              _ count: Int) {
        let inverse = 1 / normalizer
        let inner = outputInner * PostSoftmaxMask.epsilon * inverse
        for j in 0..<count {
            let du = (gradient[j] - outputInner) * inverse
            weightGradient[j] += du * p[j]
            gradient[j] = p[j] * (du * w[j] - inner)
        }
    }
}
