import Foundation

extension Tensor {
    /// A new tensor of `shape` whose elements `body` writes (every one of them).
    /// This is the entry point for kernels written outside GlanceCore.
    public init(shape: [Int], initializingWith body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(uninitializedShape: shape)
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Applies `function` to every element, 16 lanes at a time, split across threads.
    /// Not recorded for gradients: differentiable operations wrap it.
    @inlinable
    public func mapped(_ function: (FloatVector) -> FloatVector) -> Tensor {
        let count = self.count
        return withUnsafeBufferPointer { source in
            Tensor(shape: shape) { destination in
                let input = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!))
                let output = SendablePointer(destination.baseAddress!)
                parallelFor(count, grain: 1 << 15) { range in
                    var i = range.lowerBound
                    while i + 16 <= range.upperBound {
                        storeVector(function(loadVector(input.base + i)), output.base + i)
                        i += 16
                    }
                    if i < range.upperBound {
                        var tail = FloatVector()
                        for j in 0..<(range.upperBound - i) { tail[j] = input.base[i + j] }
                        let result = function(tail)
                        for j in 0..<(range.upperBound - i) { output.base[i + j] = result[j] }
                    }
                }
            }
        }
    }

    /// Applies a scalar function to every element (for functions without a vector form).
    public func mappedScalars(_ function: (Float) -> Float) -> Tensor {
        withUnsafeBufferPointer { source in
            Tensor(shape: shape) { destination in
                for i in 0..<count { destination[i] = function(source[i]) }
            }
        }
    }

    /// Combines two tensors of the same shape element by element, 16 lanes at a time.
    @inlinable
    public func zipped(with other: Tensor, _ function: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        precondition(shape == other.shape, "zipped needs equal shapes, got \(shape) and \(other.shape)")
        let count = self.count
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                Tensor(shape: shape) { destination in
                    let x = SendablePointer(UnsafeMutablePointer(mutating: a.baseAddress!))
                    let y = SendablePointer(UnsafeMutablePointer(mutating: b.baseAddress!))
                    let output = SendablePointer(destination.baseAddress!)
                    parallelFor(count, grain: 1 << 15) { range in
                        var i = range.lowerBound
                        while i + 16 <= range.upperBound {
                            storeVector(function(loadVector(x.base + i), loadVector(y.base + i)), output.base + i)
                            i += 16
                        }
                        if i < range.upperBound {
                            var u = FloatVector(), v = FloatVector()
                            for j in 0..<(range.upperBound - i) { u[j] = x.base[i + j]; v[j] = y.base[i + j] }
                            let result = function(u, v)
                            for j in 0..<(range.upperBound - i) { output.base[i + j] = result[j] }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Differentiable elementwise functions

/// e^x.
public func exp(_ x: Tensor) -> Tensor {
    let y = x.mapped { fastExp($0) }
    return y.recorded(from: [x]) { g in [g * y] }
}

/// Natural logarithm.
public func log(_ x: Tensor) -> Tensor {
    let y = x.mapped { fastLog($0) }
    return y.recorded(from: [x]) { g in [g / x.detached()] }
}

/// Square root.
public func sqrt(_ x: Tensor) -> Tensor {
    let y = x.mapped { $0.squareRoot() }
    return y.recorded(from: [x]) { g in [g.zipped(with: y) { g, y in 0.5 * g / y }] }
}

/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor {
    let y = x.mapped { fastTanh($0) }
    return y.recorded(from: [x]) { g in [g.zipped(with: y) { g, y in g * (1 - y * y) }] }
}

/// Logistic sigmoid 1 / (1 + e^−x).
public func sigmoid(_ x: Tensor) -> Tensor {
    let y = x.mapped { 1 / (1 + fastExp(-$0)) }
    return y.recorded(from: [x]) { g in [g.zipped(with: y) { g, y in g * y * (1 - y) }] }
}

/// Rectified linear unit max(x, 0).
public func relu(_ x: Tensor) -> Tensor {
    let y = x.mapped { $0.replacing(with: 0, where: $0 .< 0) }
    return y.recorded(from: [x]) { g in [g.zipped(with: x.detached()) { g, x in g.replacing(with: 0, where: x .<= 0) }] }
}

/// Gaussian error linear unit, exact form x · Φ(x) = ½ x (1 + erf(x/√2)).
public func gelu(_ x: Tensor) -> Tensor {
    let y = x.mapped { x in 0.5 * x * (1 + fastErf(x * 0.70710678118654752)) }
    return y.recorded(from: [x]) { g in
        [g.zipped(with: x.detached()) { g, x in
            let cdf = 0.5 * (1 + fastErf(x * 0.70710678118654752))
            let pdf = fastExp(-0.5 * x * x) * 0.39894228040143268
            return g * (cdf + x * pdf)
        }]
    }
}

/// Sigmoid linear unit x · σ(x) (also called swish).
public func silu(_ x: Tensor) -> Tensor {
    let y = x.mapped { x in x / (1 + fastExp(-x)) }
    return y.recorded(from: [x]) { g in
        [g.zipped(with: x.detached()) { g, x in
            let s = 1 / (1 + fastExp(-x))
            return g * s * (1 + x * (1 - s))
        }]
    }
}

/// Absolute value (subgradient 0 at 0).
public func abs(_ x: Tensor) -> Tensor {
    let y = x.mapped { abs($0) }
    return y.recorded(from: [x]) { g in
        [g.zipped(with: x.detached()) { g, x in
            FloatVector().replacing(with: g, where: x .> 0).replacing(with: -g, where: x .< 0)
        }]
    }
}

extension Tensor {
    /// Each element squared.
    public func squared() -> Tensor {
        let x = self.detached()
        let y = mapped { $0 * $0 }
        return y.recorded(from: [self]) { g in [g.zipped(with: x) { g, x in 2 * g * x }] }
    }

    /// Each element raised to a constant power (elements must be positive unless `exponent` is an integer).
    public func raised(to exponent: Float) -> Tensor {
        let x = self.detached()
        let y = mapped { powerLanes($0, exponent) }
        return y.recorded(from: [self]) { g in
            [g.zipped(with: x) { g, x in g * exponent * powerLanes(x, exponent - 1) }]
        }
    }
}

/// x^exponent per lane, exact for the exponents 0, 1 and 2 and as ``fastPow(_:_:)`` otherwise.
@inline(__always)
func powerLanes(_ x: FloatVector, _ exponent: Float) -> FloatVector {
    switch exponent {
    case 0: FloatVector(repeating: 1)
    case 1: x
    case 2: x * x
    default: fastPow(x, exponent)
    }
}
