/// The shape two operands broadcast to (NumPy rules), or nil when they do not.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if x == y || y == 1 { result[i] = x } else if x == 1 { result[i] = y } else { return nil }
    }
    return result
}

/// How each operand is walked when broadcasting to an output shape: dimensions merged
/// where possible, with stride 0 along broadcast dimensions.
@usableFromInline struct BroadcastPlan {
    @usableFromInline var shape: [Int]
    @usableFromInline var aStrides: [Int]
    @usableFromInline var bStrides: [Int]

    @usableFromInline init(output: [Int], a: [Int], b: [Int]) {
        func strides(for shape: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: output.count - shape.count) + shape
            let contiguous = contiguousStrides(padded)
            return zip(padded, contiguous).map { $0 == 1 ? 0 : $1 }
        }
        let sa = strides(for: a), sb = strides(for: b)
        var mergedShape: [Int] = [], mergedA: [Int] = [], mergedB: [Int] = []
        for axis in 0..<output.count where output[axis] != 1 {
            if let last = mergedShape.last,
               mergedA.last! == sa[axis] * output[axis], mergedB.last! == sb[axis] * output[axis] {
                mergedShape[mergedShape.count - 1] = last * output[axis]
                mergedA[mergedA.count - 1] = sa[axis]
                mergedB[mergedB.count - 1] = sb[axis]
            } else {
                mergedShape.append(output[axis])
                mergedA.append(sa[axis])
                mergedB.append(sb[axis])
            }
        }
        if mergedShape.isEmpty { mergedShape = [1]; mergedA = [0]; mergedB = [0] }
        shape = mergedShape
        aStrides = mergedA
        bStrides = mergedB
    }
}

/// Elementwise binary operation with broadcasting; the innermost dimension runs 16 lanes at a time.
@inlinable
func broadcastCombine(_ a: Tensor, _ b: Tensor, _ function: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
    if a.shape == b.shape { return a.zipped(with: b, function) }
    guard let output = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let plan = BroadcastPlan(output: output, a: a.shape, b: b.shape)
    let inner = plan.shape.last!
    let innerA = plan.aStrides.last!, innerB = plan.bStrides.last!
    let rows = plan.shape.dropLast().reduce(1, *)
    return a.withUnsafeBufferPointer { aBuffer in
        b.withUnsafeBufferPointer { bBuffer in
            Tensor(shape: output) { out in
                let x = SendablePointer(UnsafeMutablePointer(mutating: aBuffer.baseAddress!))
                let y = SendablePointer(UnsafeMutablePointer(mutating: bBuffer.baseAddress!))
                let o = SendablePointer(out.baseAddress!)
                parallelFor(rows, grain: Swift.max(1, (1 << 14) / inner)) { rowRange in
                    for row in rowRange {
                        var offsetA = 0, offsetB = 0, rest = row
                        for axis in stride(from: plan.shape.count - 2, through: 0, by: -1) {
                            let index = rest % plan.shape[axis]
                            rest /= plan.shape[axis]
                            offsetA += index * plan.aStrides[axis]
                            offsetB += index * plan.bStrides[axis]
                        }
                        let pa = x.base + offsetA, pb = y.base + offsetB, po = o.base + row * inner
                        var i = 0
                        while i + 16 <= inner {
                            let u = innerA == 0 ? FloatVector(repeating: pa[0]) : loadVector(pa + i)
                            let v = innerB == 0 ? FloatVector(repeating: pb[0]) : loadVector(pb + i)
                            storeVector(function(u, v), po + i)
                            i += 16
                        }
                        if i < inner {
                            var u = FloatVector(), v = FloatVector()
                            for j in 0..<(inner - i) {
                                u[j] = pa[innerA == 0 ? 0 : i + j]
                                v[j] = pb[innerB == 0 ? 0 : i + j]
                            }
                            let r = function(u, v)
                            for j in 0..<(inner - i) { po[i + j] = r[j] }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Sums a broadcast gradient back down to `shape`.
    public func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        var axes = Array(0..<lead)
        for (i, extent) in target.enumerated() where extent == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(alongAxes: axes, keepingDimensions: true).reshaped(to: target)
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastCombine(a, b, +)
    return y.recorded(from: [a, b]) { g in [g.unbroadcast(to: a.shape), g.unbroadcast(to: b.shape)] }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastCombine(a, b, -)
    return y.recorded(from: [a, b]) { g in [g.unbroadcast(to: a.shape), (-g).unbroadcast(to: b.shape)] }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastCombine(a, b, *)
    let x1 = a.detached(), x2 = b.detached()
    return y.recorded(from: [a, b]) { g in
        [a.requiresGradient ? (g * x2).unbroadcast(to: a.shape) : nil,
         b.requiresGradient ? (g * x1).unbroadcast(to: b.shape) : nil]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastCombine(a, b, /)
    let x1 = a.detached(), x2 = b.detached()
    return y.recorded(from: [a, b]) { g in
        [a.requiresGradient ? (g / x2).unbroadcast(to: a.shape) : nil,
         b.requiresGradient ? (-(g * x1) / (x2 * x2)).unbroadcast(to: b.shape) : nil]
    }
}

public prefix func - (x: Tensor) -> Tensor {
    let y = x.mapped { -$0 }
    return y.recorded(from: [x]) { g in [-g] }
}

public func + (a: Tensor, b: Float) -> Tensor {
    let y = a.mapped { $0 + b }
    return y.recorded(from: [a]) { g in [g] }
}
public func + (a: Float, b: Tensor) -> Tensor { b + a }
public func - (a: Tensor, b: Float) -> Tensor { a + (-b) }
public func - (a: Float, b: Tensor) -> Tensor { -b + a }

public func * (a: Tensor, b: Float) -> Tensor {
    let y = a.mapped { $0 * b }
    return y.recorded(from: [a]) { g in [g * b] }
}
public func * (a: Float, b: Tensor) -> Tensor { b * a }
public func / (a: Tensor, b: Float) -> Tensor { a * (1 / b) }

public func / (a: Float, b: Tensor) -> Tensor {
    let x = b.detached()
    let y = b.mapped { a / $0 }
    return y.recorded(from: [b]) { g in [g.zipped(with: x) { g, x in -a * g / (x * x) }] }
}

extension Tensor {
    /// Adds a tensor of the same shape into this one's storage (copying it first if shared).
    /// Not recorded for gradients.
    public mutating func addInPlace(_ other: Tensor) {
        precondition(shape == other.shape, "addInPlace needs equal shapes, got \(shape) and \(other.shape)")
        let count = self.count
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { destination in
                let x = SendablePointer(source.baseAddress!), y = SendablePointer(destination.baseAddress!)
                parallelFor(count, grain: 1 << 15) { range in
                    vectorAxpy(1, x.base + range.lowerBound, y.base + range.lowerBound, range.count)
                }
            }
        }
    }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func *= (a: inout Tensor, b: Float) { a = a * b }
}
