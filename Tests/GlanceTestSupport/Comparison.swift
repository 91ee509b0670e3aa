import Foundation
import GlanceCore

/// Whether `|a − b| ≤ absoluteTolerance + relativeTolerance · |b|` for one pair of values.
/// Equal infinities are close; NaN is close to nothing.
public func isClose(_ a: Float, _ b: Float, relativeTolerance: Float = 1e-5, absoluteTolerance: Float = 1e-6) -> Bool {
    if a == b { return true }
    guard a.isFinite && b.isFinite else { return false }
    return Swift.abs(a - b) <= absoluteTolerance + relativeTolerance * Swift.abs(b)
}

/// Element-wise ``isClose(_:_:relativeTolerance:absoluteTolerance:)-(Float,Float,_,_)`` over
/// two arrays of equal length.
public func isClose(_ a: [Float], _ b: [Float], relativeTolerance: Float = 1e-5, absoluteTolerance: Float = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy {
        isClose($0, $1, relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
    }
}

/// Whether two tensors have the same shape and element-wise close values.
public func isClose(_ a: Tensor, _ b: Tensor, relativeTolerance: Float = 1e-5, absoluteTolerance: Float = 1e-6) -> Bool {
    a.shape == b.shape && isClose(a.scalars, b.scalars, relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
}

/// ‖a − b‖ / ‖b‖ (Euclidean norms, in Double); ‖a‖ when b is zero. Infinite for different counts.
public func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var difference = 0.0, reference = 0.0
    for (x, y) in zip(a, b) {
        let d = Double(x) - Double(y)
        difference += d * d
        reference += Double(y) * Double(y)
    }
    return reference == 0 ? difference.squareRoot() : (difference / reference).squareRoot()
}

/// ‖a − b‖ / ‖b‖ for tensors; infinite when the shapes differ.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    a.shape == b.shape ? relativeError(a.scalars, b.scalars) : .infinity
}

/// Largest |a − b| element-wise (infinite when the counts differ).
public func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(Float(0)) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
}

/// Largest |a − b| element-wise for tensors (infinite when the shapes differ).
public func maxAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
    a.shape == b.shape ? maxAbsoluteDifference(a.scalars, b.scalars) : .infinity
}

/// Row-major multi-index of a flat offset.
public func multiIndex(_ offset: Int, shape: [Int]) -> [Int] {
    var rest = offset
    var index = [Int](repeating: 0, count: shape.count)
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        index[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return index
}

/// Flat row-major offset of a multi-index.
public func flatOffset(_ index: [Int], shape: [Int]) -> Int {
    zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
}
