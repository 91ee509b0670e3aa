import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Gradient check of a model: analytic gradients of every trainable parameter (through
/// ``valueAndGradient(model:_:)``) and of every input (read from the input leaves with
/// ``Tensor/takeGradient()``) against central differences on the same values.
func checkModelGradients<Model: Module>(_ model: Model, inputs: [Tensor], step: Float = defaultGradientStep,
                                        tolerance: Double = defaultGradientTolerance,
                                        _ function: (Model, [Tensor]) -> Tensor) -> GradientCheckReport {
    let plain = withoutGradients { function(model, inputs) }
    let projection = randomProjection(shape: plain.shape)
    let leaves = inputs.map { $0.requiringGradient() }
    let (value, parameterGradients) = valueAndGradient(model: model) { m in (function(m, leaves) * projection).sum() }
    let inputGradients = zip(leaves, inputs).map { leaf, input in leaf.takeGradient() ?? Tensor.zeros(input.shape) }
    let trainable = model.trainableParameters()
    let analytic = trainable.map { parameterGradients[$0.key]! } + inputGradients
    let originals = trainable.map(\.parameter.value)
    let numeric = numericalGradients(at: originals + inputs, step: step, projection: projection) { points in
        for (index, entry) in trainable.enumerated() { entry.parameter.value = points[index] }
        defer { for (index, entry) in trainable.enumerated() { entry.parameter.value = originals[index] } }
        return function(model, Array(points[trainable.count...]))
    }
    let labels = trainable.map(\.key) + inputs.indices.map { "input \($0)" }
    let plainValue = projectedSum(plain, projection), recorded = Double(value.item())
    return GradientCheckReport(comparisons: compareGradients(analytic: analytic, numeric: numeric, labels: labels, tolerance: tolerance),
                               valueMatches: projectedValuesAgree(recorded, plainValue, output: plain, projection: projection),
                               recordedValue: recorded, plainValue: plainValue)
}

/// ``checkModelGradients(_:inputs:step:tolerance:_:)`` recorded as an expectation.
func expectModelGradientsMatch<Model: Module>(_ model: Model, inputs: [Tensor], step: Float = defaultGradientStep,
                                              tolerance: Double = defaultGradientTolerance, _ label: String = "",
                                              sourceLocation: SourceLocation = #_sourceLocation,
                                              _ function: (Model, [Tensor]) -> Tensor) {
    let report = checkModelGradients(model, inputs: inputs, step: step, tolerance: tolerance, function)
    if ProcessInfo.processInfo.environment["GLANCE_GRADCHECK_LOG"] != nil {
        print("gradcheck \(sourceLocation.fileName):\(sourceLocation.line) \(label) worst ratio \(String(format: "%.3g", report.worstRatio))")
    }
    #expect(report.passed, "\(label)\n\(report)", sourceLocation: sourceLocation)
}

/// A fresh empty folder under the system temporary directory.
func temporaryFolder(_ name: String = #function) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("glance-nn-tests-\(name.filter { $0.isLetter })-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Row-major scalars of a tensor as Double.
func doubles(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }
