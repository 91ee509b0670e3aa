import Foundation
import GlanceCore

/// Default bound of the gradient check: for each input, the largest absolute difference
/// between analytic and numerical gradient must stay below
/// `defaultGradientTolerance · max(1, largest |numerical gradient|)`.
///
/// Central differences with a step of 1e-2 on Float32 functions whose outputs are projected
/// on N(0, 1) weights carry errors of about 1e-4 … 1e-3 (truncation h²·f‴/6 and rounding
/// ε·|L|/h); a wrong backward rule is off by tens of percent. 1e-2 keeps a margin of ten
/// over the noise and still rejects a gradient that is 3 % too large.
public let defaultGradientTolerance: Double = 1e-2

/// Default finite-difference step for Float32 inputs of magnitude about 1.
public let defaultGradientStep: Float = 1e-2

/// A fixed random projection `R` used to reduce any output to a scalar `Σ out · R`, so that
/// every output element contributes to the checked gradient.
public func randomProjection(shape: [Int], seed: UInt64 = 0x5EED_1234) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape: shape, generator: &generator)
}

/// `Σ out · R` accumulated in Double.
public func projectedSum(_ output: Tensor, _ projection: Tensor) -> Double {
    precondition(output.shape == projection.shape, "projection of shape \(projection.shape) for an output of shape \(output.shape)")
    return output.withUnsafeBufferPointer { out in
        projection.withUnsafeBufferPointer { r in
            var total = 0.0
            for i in 0..<out.count { total += Double(out[i]) * Double(r[i]) }
            return total
        }
    }
}

/// Central-difference gradients of `Σ function(points) · projection` with respect to every
/// element of every point. `function` runs without gradient recording; the perturbed
/// values are stored in Float32 and the actual difference of the two stored values is the
/// denominator, so that the step's rounding does not bias the quotient. Non-finite input
/// elements (−∞ masks) are not perturbed: their numerical gradient is 0.
public func numericalGradients(at points: [Tensor], step: Float = defaultGradientStep, projection: Tensor,
                               _ function: ([Tensor]) -> Tensor) -> [Tensor] {
    withoutGradients {
        var arguments = points.map { $0.detached() }
        var result: [Tensor] = []
        for p in points.indices {
            let original = arguments[p]
            var gradient = [Float](repeating: 0, count: original.count)
            let values = original.scalars
            for i in values.indices where values[i].isFinite {  // masked (±∞) entries cannot be perturbed
                let plus = values[i] + step, minus = values[i] - step
                var perturbed = original
                perturbed.withUnsafeMutableBufferPointer { $0[i] = plus }
                arguments[p] = perturbed
                let high = projectedSum(function(arguments), projection)
                perturbed.withUnsafeMutableBufferPointer { $0[i] = minus }
                arguments[p] = perturbed
                let low = projectedSum(function(arguments), projection)
                gradient[i] = Float((high - low) / (Double(plus) - Double(minus)))
            }
            arguments[p] = original
            result.append(Tensor(gradient, shape: original.shape))
        }
        return result
    }
}

/// One input's comparison of analytic and numerical gradients.
public struct GradientComparison: Sendable, CustomStringConvertible {
    /// Name of the input (its index, or a parameter key).
    public let label: String
    public let shape: [Int]
    /// Largest |analytic − numerical| over the elements.
    public let maxError: Double
    /// max(1, largest |numerical|): the scale the error is measured against.
    public let scale: Double
    /// Element with the largest error, and both values there.
    public let worstIndex: Int
    public let worstAnalytic: Float
    public let worstNumeric: Float
    public let tolerance: Double

    /// maxError / scale.
    public var relativeError: Double { maxError / scale }
    public var passed: Bool { maxError <= tolerance * scale && maxError.isFinite }

    public var description: String {
        let mark = passed ? "ok" : "FAIL"
        return "\(mark) \(label) \(shape): max error \(String(format: "%.3g", maxError)) vs scale \(String(format: "%.3g", scale)) "
            + "(ratio \(String(format: "%.3g", relativeError)), tolerance \(tolerance)); worst element \(worstIndex): "
            + "analytic \(worstAnalytic), numerical \(worstNumeric)"
    }
}

/// The outcome of a gradient check over all inputs.
public struct GradientCheckReport: Sendable, CustomStringConvertible {
    public let comparisons: [GradientComparison]
    /// Whether the recorded forward pass gave the same projected value as the plain one.
    public let valueMatches: Bool
    public let recordedValue: Double
    public let plainValue: Double

    public init(comparisons: [GradientComparison], valueMatches: Bool, recordedValue: Double, plainValue: Double) {
        self.comparisons = comparisons
        self.valueMatches = valueMatches
        self.recordedValue = recordedValue
        self.plainValue = plainValue
    }

    public var passed: Bool { valueMatches && comparisons.allSatisfy(\.passed) }
    /// Largest error ratio over all inputs.
    public var worstRatio: Double { comparisons.map(\.relativeError).max() ?? 0 }

    public var description: String {
        var lines = comparisons.map(\.description)
        if !valueMatches { lines.append("FAIL recorded value \(recordedValue) differs from plain value \(plainValue)") }
        return lines.joined(separator: "\n")
    }
}

/// Compares analytic and numerical gradients input by input.
public func compareGradients(analytic: [Tensor], numeric: [Tensor], labels: [String]? = nil,
                             tolerance: Double = defaultGradientTolerance) -> [GradientComparison] {
    precondition(analytic.count == numeric.count, "\(analytic.count) analytic and \(numeric.count) numerical gradients")
    return analytic.indices.map { p in
        let a = analytic[p], n = numeric[p]
        let label = labels?[p] ?? "input \(p)"
        guard a.shape == n.shape else {
            return GradientComparison(label: label + " (analytic shape \(a.shape))", shape: n.shape, maxError: .infinity, scale: 1,
                                      worstIndex: -1, worstAnalytic: .nan, worstNumeric: .nan, tolerance: tolerance)
        }
        let av = a.scalars, nv = n.scalars
        var maxError = 0.0, scale = 1.0, worst = 0
        for i in av.indices {
            let error = Swift.abs(Double(av[i]) - Double(nv[i]))
            if !(error <= maxError) { maxError = error; worst = i }  // also catches NaN
            scale = Swift.max(scale, Swift.abs(Double(nv[i])))
        }
        return GradientComparison(label: label, shape: n.shape, maxError: maxError.isNaN ? .infinity : maxError, scale: scale,
                                  worstIndex: av.isEmpty ? -1 : worst, worstAnalytic: av.isEmpty ? 0 : av[worst],
                                  worstNumeric: nv.isEmpty ? 0 : nv[worst], tolerance: tolerance)
    }
}

/// Whether a recorded and a plain projected value agree up to Float32 summation error.
public func projectedValuesAgree(_ recorded: Double, _ plain: Double, output: Tensor, projection: Tensor) -> Bool {
    let magnitude = output.withUnsafeBufferPointer { out in
        projection.withUnsafeBufferPointer { r in (0..<out.count).reduce(0.0) { $0 + Swift.abs(Double(out[$1]) * Double(r[$1])) } }
    }
    return Swift.abs(recorded - plain) <= 1e-5 * Swift.max(magnitude, 1)
}

/// Checks the analytic gradients of `function` (through ``valueAndGradient(at:of:)``) against
/// central differences. The output may have any shape: it is reduced with a fixed random
/// projection `Σ out · R`.
public func checkGradients(at points: [Tensor], step: Float = defaultGradientStep,
                           tolerance: Double = defaultGradientTolerance, projectionSeed: UInt64 = 0x5EED_1234,
                           _ function: ([Tensor]) -> Tensor) -> GradientCheckReport {
    let plain = withoutGradients { function(points.map { $0.detached() }) }
    let projection = randomProjection(shape: plain.shape, seed: projectionSeed)
    let (value, analytic) = valueAndGradient(at: points) { leaves in (function(leaves) * projection).sum() }
    let numeric = numericalGradients(at: points, step: step, projection: projection, function)
    let plainValue = projectedSum(plain, projection)
    let recorded = Double(value.item())
    return GradientCheckReport(comparisons: compareGradients(analytic: analytic, numeric: numeric, tolerance: tolerance),
                               valueMatches: projectedValuesAgree(recorded, plainValue, output: plain, projection: projection),
                               recordedValue: recorded, plainValue: plainValue)
}
