import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN

extension Bench {
    /// `--model-depth L`: a whole stack of L blocks (the mechanism's attention and a 4·d
    /// feed-forward) wired as a reversible residual pair on a [batch, n, 2d] input, run with the
    /// reversible backward (`--reversible`) or storing its activations. Reports the median
    /// forward and forward + backward times, the process's peak RSS, the most bytes of tensors
    /// alive at once during forward + backward beyond the weights and inputs (gradients
    /// included) and the bytes of the weights and their gradients; `--check-gradients` also runs the other form and reports
    /// the largest relative difference of the input's and the weights' gradients.
    func runStack(depth: Int) throws {
        for (index, n) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let width = heads * headDim, source = RandomSource(seed: 1)
            let build = AttentionBuild(required: required)
            let blocks = try (0..<depth).map { _ in
                let attention = try makeLayer(length: n, build: build, generator: &generator)
                let feedForward = FeedForward(dimensions: width, hiddenDimensions: 4 * width, chunkLength: feedForwardChunk, generator: &generator)
                return TransformerBlock(attention: attention, feedForward: feedForward, dropout: 0, source: source)
            }
            let parameters = blocks.flatMap { $0.trainableParameters().map(\.parameter) }
            let input = Tensor.randomNormal(shape: [batch, n, 2 * width], generator: &generator)
            let seed = Tensor.randomNormal(shape: input.shape, generator: &generator)
            let mask = AttentionMask(causal: causal)
            func stack(_ x: Tensor, reversible: Bool) -> Tensor {
                reversibleTransformerStack(x, blocks: blocks, mask: mask, storingActivations: !reversible)
            }
            let forward = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { stack(input, reversible: reversible) } }
            var gradientsOfRun: [Tensor] = []
            let before = TensorMemory.liveBytes
            TensorMemory.resetPeak()
            let total = medianMilliseconds(repeats: `repeat`) {
                gradientsOfRun = []
                gradientsOfRun = inputAndWeightGradients(input: input, seed: seed, parameters: parameters) { stack($0, reversible: reversible) }
            }
            let peak = peakResidentBytes(), peakTensors = TensorMemory.peakBytes - before
            let weightBytes = parameters.reduce(0) { $0 + $1.value.count } * MemoryLayout<Float>.size
            var measurements: [(String, Any)] = [
                ("length", n), ("forward_ms", rounded(forward)), ("backward_ms", rounded(total)),
                ("peak_rss_bytes", peak), ("peak_tensor_bytes", peakTensors), ("weight_and_gradient_bytes", 2 * weightBytes),
            ]
            if checkGradients {
                let other = inputAndWeightGradients(input: input, seed: seed, parameters: parameters) { stack($0, reversible: !reversible) }
                measurements.append(("gradient_relative_error", zip(gradientsOfRun, other).map { relativeDifference($0, $1) }.max() ?? 0))
            }
            try report(settings: try commonSettings() + [("depth", depth), ("reversible", reversible), ("threads", Threading.count)],
                       measurements: measurements, first: index == 0)
        }
    }
}

/// The gradients of ⟨body(input), seed⟩ with respect to `input` and then each of `parameters`.
func inputAndWeightGradients(input: Tensor, seed: Tensor, parameters: [Parameter], _ body: (Tensor) -> Tensor) -> [Tensor] {
    let x = input.requiringGradient()
    for p in parameters { p.value = p.value.requiringGradient() }
    defer { for p in parameters { p.value = p.value.detached() } }
    let out = withGradients { body(x) }
    return gradients(of: out, seed: seed, withRespectTo: [x] + parameters.map(\.value))
}

/// ‖a − b‖ / ‖b‖ (0 when both are zero).
func relativeDifference(_ a: Tensor, _ b: Tensor) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a.scalars, b.scalars) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
}
