import Foundation
import GlanceCore
import Testing

/// Runs a finite-difference gradient check and records a failure that prints the report.
/// With `GLANCE_GRADCHECK_LOG` set, every report's worst error ratio is printed (for tuning).
public func expectGradientsMatch(_ points: [Tensor], step: Float = defaultGradientStep, tolerance: Double = defaultGradientTolerance,
                                 _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                                 _ function: ([Tensor]) -> Tensor) {
    let report = checkGradients(at: points, step: step, tolerance: tolerance, function)
    if ProcessInfo.processInfo.environment["GLANCE_GRADCHECK_LOG"] != nil {
        print("gradcheck \(sourceLocation.fileName):\(sourceLocation.line) \(label) worst ratio \(String(format: "%.3g", report.worstRatio))")
    }
    #expect(report.passed, "\(label)\n\(report)", sourceLocation: sourceLocation)
}
