extension Tensor {
    /// 1 where `self > other` (broadcasting), else 0. Not differentiable.
    public func isGreater(than other: Tensor) -> Tensor {
        withoutGradients { broadcastCombine(self, other) { FloatVector().replacing(with: 1, where: $0 .> $1) } }
    }

    /// 1 where `self < other` (broadcasting), else 0. Not differentiable.
    public func isLess(than other: Tensor) -> Tensor { other.isGreater(than: self) }

    /// 1 where `self == other` (broadcasting), else 0. Not differentiable.
    public func isEqual(to other: Tensor) -> Tensor {
        withoutGradients { broadcastCombine(self, other) { FloatVector().replacing(with: 1, where: $0 .== $1) } }
    }
}

/// Picks `a` where `condition` is non-zero and `b` elsewhere (broadcasting all three).
/// Differentiable in `a` and `b`.
public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let mask = withoutGradients { condition.mapped { FloatVector().replacing(with: 1, where: $0 .!= 0) } }
    let picked = broadcastCombine(mask, a) { m, x in x.replacing(with: 0, where: m .== 0) }
    let inverse = withoutGradients { 1 - mask }
    let other = broadcastCombine(inverse, b) { m, x in x.replacing(with: 0, where: m .== 0) }
    let y = broadcastCombine(picked, other, +)
    return y.recorded(from: [a, b]) { g in
        [(g * mask).unbroadcast(to: a.shape), (g * inverse).unbroadcast(to: b.shape)]
    }
}
