import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN

extension Bench {
    /// Times one attention layer per length: forward, and forward + backward with `--backward`.
    func runLayer() throws {
        var gemmRate: Double?
        for (index, n) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let layer = try makeLayer(length: n, generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, heads * headDim], generator: &generator)
            let context = context(batch: batch, length: n, generator: &generator)
            let (forward, backwardTime) = medianTimes(of: layer, input: input, generator: &generator) { layer.attend($0, context: context).output }
            var settings = try commonSettings()
            settings[settings.firstIndex { $0.0 == "causal" }!].1 = causal || layer.isAlwaysCausal
            let peakResident = peakResidentBytes()
            let flops = (layer as? AttentionFlopCounting)?.flops(for: workload(length: n, causal: causal || layer.isAlwaysCausal))
            try report(settings: settings + [("threads", Threading.count)],
                       measurements: [("length", n), ("forward_ms", rounded(forward)), ("backward_ms", backwardTime.map(rounded) ?? NSNull())]
                                      + rateMeasurements(flops, forward: forward, backward: backwardTime, gemmRate: &gemmRate) + [
                                      ("peak_rss_bytes", peakResident)],
                       first: index == 0)
        }
    }

    /// Median milliseconds of `body` (the forward pass of `module`) on `input`, and with
    /// `--backward` of forward + backward to the input and every weight (nil without).
    func medianTimes(of module: Module, input: Tensor, generator: inout RandomGenerator,
                     _ body: (Tensor) -> Tensor) -> (forward: Double, backward: Double?) {
        let forward = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { body(input) } }
        guard backward else { return (forward, nil) }
        let seed = Tensor.randomNormal(shape: input.shape, generator: &generator)
        let parameters = module.trainableParameters().map(\.parameter)
        return (forward, medianMilliseconds(repeats: `repeat`) { _ = inputAndWeightGradients(input: input, seed: seed, parameters: parameters, body) })
    }

    /// The sizes of one timed call, for the layer's operation count.
    func workload(length n: Int, causal: Bool) -> AttentionWorkload {
        AttentionWorkload(batch: batch, length: n, memory: memory, causal: causal, globalTokens: globalTokens)
    }
}
