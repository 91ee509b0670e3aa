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
