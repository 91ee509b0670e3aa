/// SIMD building blocks shared by the kernels: 16-lane loads and stores and fast
/// transcendental functions accurate to a few ulps of Float32.
public typealias FloatVector = SIMD16<Float>

@inlinable @inline(__always)
public func loadVector(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

@inlinable @inline(__always)
public func storeVector(_ vector: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: FloatVector.self)
}

/// e^x for each lane: range reduction by powers of two and a degree-6 polynomial
/// (relative error below 2e-7 for x in [-87, 88]); returns 0 below -87.3 and e^88 above 88.
@inlinable @inline(__always)
public func fastExp(_ input: FloatVector) -> FloatVector {
    let lowest: Float = -87.33654
    // Compare-and-blend keeps this vectorized (clamped/pointwiseMin scalarize for NaN rules).
    let x = vectorMin(vectorMax(input, FloatVector(repeating: lowest)), FloatVector(repeating: 88.0))
    let magic = FloatVector(repeating: 12582912)  // 1.5 · 2^23: adding it rounds to an integer
    // Written with addingProduct so that each step is one fused multiply-add.
    let shifted = magic.addingProduct(x, FloatVector(repeating: 1.44269504088896341))
    let n = shifted - magic
    var r = x.addingProduct(n, FloatVector(repeating: -0.693359375))
    r = r.addingProduct(n, FloatVector(repeating: 2.12194440e-4))
    var p = FloatVector(repeating: 1.3981999507e-3).addingProduct(FloatVector(repeating: 1.9875691500e-4), r)
    p = FloatVector(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = FloatVector(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = FloatVector(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = FloatVector(repeating: 5.0000001201e-1).addingProduct(p, r)
    let y = (r + 1).addingProduct(p, r * r)
    let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(bits &<< 23, to: FloatVector.self)
    return (y * scale).replacing(with: 0, where: input .< lowest)
}

/// e^x for one value, with the same algorithm as ``fastExp(_:)-(FloatVector)``.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float { fastExp(FloatVector(repeating: x))[0] }

/// Natural logarithm per lane: x = m · 2^e with m in [√½, √2), a degree-9 polynomial in
/// m − 1 (Cephes' logf, relative error below 2e-7 away from x = 1, absolute below 1e-7 near
/// it); log 0 = −∞, log of a negative number or NaN is NaN, log ∞ = ∞. Subnormals are scaled
/// into the normal range first.
@inlinable @inline(__always)
public func fastLog(_ input: FloatVector) -> FloatVector {
    let subnormal = input .< Float.leastNormalMagnitude
    let scaled = input.replacing(with: input * 0x1p23, where: subnormal)
    let bits = unsafeBitCast(scaled, to: SIMD16<Int32>.self)
    var exponent = (bits &>> 23) &- 126
    exponent.replace(with: exponent &- 23, where: subnormal)
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: FloatVector.self)  // in [0.5, 1)
    let low = m .< 0.707106781186547524
    exponent.replace(with: exponent &- 1, where: low)
    m = m.replacing(with: m + m, where: low) - 1
    let e = FloatVector(exponent)
    let z = m * m
    var p = FloatVector(repeating: -1.1514610310e-1).addingProduct(FloatVector(repeating: 7.0376836292e-2), m)
    p = FloatVector(repeating: 1.1676998740e-1).addingProduct(p, m)
    p = FloatVector(repeating: -1.2420140846e-1).addingProduct(p, m)
    p = FloatVector(repeating: 1.4249322787e-1).addingProduct(p, m)
    p = FloatVector(repeating: -1.6668057665e-1).addingProduct(p, m)
    p = FloatVector(repeating: 2.0000714765e-1).addingProduct(p, m)
    p = FloatVector(repeating: -2.4999993993e-1).addingProduct(p, m)
    p = FloatVector(repeating: 3.3333331174e-1).addingProduct(p, m)
    var y = p * m * z
    y = y.addingProduct(e, FloatVector(repeating: -2.12194440e-4))
    y = y.addingProduct(z, FloatVector(repeating: -0.5))
    var result = (m + y).addingProduct(e, FloatVector(repeating: 0.693359375))
    result.replace(with: -.infinity, where: input .== 0)
    result.replace(with: .infinity, where: input .== .infinity)
    result.replace(with: .nan, where: .!(input .>= 0))  // negative or NaN
    return result
}

/// Hyperbolic tangent per lane: an odd polynomial below |x| = 0.625 (Cephes' tanhf) and
/// 1 − 2 / (e^{2|x|} + 1) above, with the sign restored (error below 3e-7).
@inlinable @inline(__always)
public func fastTanh(_ x: FloatVector) -> FloatVector {
    let a = abs(x)
    let z = x * x
    var p = FloatVector(repeating: 2.06390887954e-2).addingProduct(FloatVector(repeating: -5.70498872745e-3), z)
    p = FloatVector(repeating: -5.37397155531e-2).addingProduct(p, z)
    p = FloatVector(repeating: 1.33314422036e-1).addingProduct(p, z)
    p = FloatVector(repeating: -3.33332819422e-1).addingProduct(p, z)
    let small = x.addingProduct(p * z, x)
    let large = 1 - 2 / (fastExp(a + a) + 1)
    let signedLarge = large.replacing(with: -large, where: x .< 0)
    return small.replacing(with: signedLarge, where: a .>= 0.625)
}

/// x^exponent per lane as e^{exponent · log |x|}, negated for negative x when `exponent` is
/// an odd integer; NaN for negative x and a fractional exponent, as `pow` gives (relative
/// error about 2e-7 · (1 + |exponent · log x|)). `exponent` must not be 0.
@inlinable @inline(__always)
public func fastPow(_ x: FloatVector, _ exponent: Float) -> FloatVector {
    let power = fastLog(abs(x)) * exponent
    var result = fastExp(power).replacing(with: .infinity, where: power .> 88.7228)  // beyond Float's range
    result.replace(with: .nan, where: power .!= power)
    if exponent.rounded() == exponent {
        if exponent.truncatingRemainder(dividingBy: 2) != 0 { result.replace(with: -result, where: x .< 0) }
    } else {
        result.replace(with: .nan, where: x .< 0)
    }
    return result
}

/// erf(x) per lane (Abramowitz–Stegun 7.1.26, absolute error below 1.5e-7).
@inlinable @inline(__always)
public func fastErf(_ x: FloatVector) -> FloatVector {
    let sign = FloatVector(repeating: 1).replacing(with: -1, where: x .< 0)
    let a = abs(x)
    let t = 1 / FloatVector(repeating: 1).addingProduct(a, FloatVector(repeating: 0.3275911))
    var p = FloatVector(repeating: -1.453152027).addingProduct(FloatVector(repeating: 1.061405429), t)
    p = FloatVector(repeating: 1.421413741).addingProduct(p, t)
    p = FloatVector(repeating: -0.284496736).addingProduct(p, t)
    p = FloatVector(repeating: 0.254829592).addingProduct(p, t)
    let y = 1 - p * t * fastExp(-(a * a))
    return sign * y
}

@inlinable @inline(__always)
func abs(_ x: FloatVector) -> FloatVector { x.replacing(with: -x, where: x .< 0) }

/// Lane-wise maximum as one compare and blend (NaN handling is not IEEE's).
@inlinable @inline(__always)
public func vectorMax(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a.replacing(with: b, where: b .> a) }

/// Lane-wise minimum as one compare and blend.
@inlinable @inline(__always)
public func vectorMin(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a.replacing(with: b, where: b .< a) }

/// Sum of the lanes of a vector.
@inlinable @inline(__always)
public func horizontalSum(_ v: FloatVector) -> Float { v.sum() }

/// Sum of `count` floats, vectorized.
@inlinable
public func vectorSum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = FloatVector(), acc1 = FloatVector()
    var i = 0
    while i + 32 <= count {
        acc0 += loadVector(x + i)
        acc1 += loadVector(x + i + 16)
        i += 32
    }
    if i + 16 <= count { acc0 += loadVector(x + i); i += 16 }
    var total = (acc0 + acc1).sum()
    while i < count { total += x[i]; i += 1 }
    return total
}

/// Dot product of two float arrays, vectorized.
@inlinable
public func vectorDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = FloatVector(), acc1 = FloatVector()
    var i = 0
    while i + 32 <= count {
        acc0 = acc0.addingProduct(loadVector(x + i), loadVector(y + i))
        acc1 = acc1.addingProduct(loadVector(x + i + 16), loadVector(y + i + 16))
        i += 32
    }
    if i + 16 <= count { acc0 = acc0.addingProduct(loadVector(x + i), loadVector(y + i)); i += 16 }
    var total = (acc0 + acc1).sum()
    while i < count { total += x[i] * y[i]; i += 1 }
    return total
}

/// Maximum of `count` floats (−∞ when empty).
@inlinable
public func vectorMax(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var best = FloatVector(repeating: -.infinity)
    var i = 0
    while i + 16 <= count {
        best = vectorMax(best, loadVector(x + i))
        i += 16
    }
    var result = best[0]
    for lane in 1..<16 where best[lane] > result { result = best[lane] }
    while i < count { result = Swift.max(result, x[i]); i += 1 }
    return result
}

/// y[i] = a · x[i] + y[i].
@inlinable
public func vectorAxpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 16 <= count {
        storeVector(loadVector(y + i).addingProduct(loadVector(x + i), FloatVector(repeating: a)), y + i)
        i += 16
    }
    while i < count { y[i] += a * x[i]; i += 1 }
}

/// x[i] *= a.
@inlinable
public func vectorScale(_ x: UnsafeMutablePointer<Float>, _ a: Float, _ count: Int) {
    var i = 0
    while i + 16 <= count {
        storeVector(loadVector(x + i) * a, x + i)
        i += 16
    }
    while i < count { x[i] *= a; i += 1 }
}
