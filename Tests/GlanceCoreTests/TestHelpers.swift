import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Runs a finite-difference gradient check and records a failure that prints the report.
/// With `GLANCE_GRADCHECK_LOG` set, every report's worst error ratio is printed (for tuning).
func expectGradientsMatch(_ points: [Tensor], step: Float = defaultGradientStep, tolerance: Double = defaultGradientTolerance,
                          _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                          _ function: ([Tensor]) -> Tensor) {
    let report = checkGradients(at: points, step: step, tolerance: tolerance, function)
    if ProcessInfo.processInfo.environment["GLANCE_GRADCHECK_LOG"] != nil {
        print("gradcheck \(sourceLocation.fileName):\(sourceLocation.line) \(label) worst ratio \(String(format: "%.3g", report.worstRatio))")
    }
    #expect(report.passed, "\(label)\n\(report)", sourceLocation: sourceLocation)
}

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
