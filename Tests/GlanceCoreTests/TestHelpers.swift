import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Naive NumPy broadcasting of a row-major array to a larger shape.
func naiveBroadcast(_ values: [Float], from shape: [Int], to target: [Int]) -> [Float] {
    let count = target.reduce(1, *)
    let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
    return (0..<count).map { offset in
        let index = multiIndex(offset, shape: target)
        let source = zip(index, padded).map { $1 == 1 ? 0 : $0 }
        return values[flatOffset(source, shape: padded)]
    }
}

/// Row-major scalars of a tensor as Double.
func doubles(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }
