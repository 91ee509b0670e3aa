import Foundation
import GlanceAttention
import GlanceCore

extension Bench {
    /// Times one attention layer per length: forward, and forward + backward with `--backward`.
    func runLayer() throws {
        for n in try lengths() {
            var generator = RandomGenerator(seed: 0)
            let layer = try makeLayer(length: n, generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, heads * headDim], generator: &generator)
            let context = context(batch: batch, length: n, generator: &generator)
            let forward = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { layer.attend(input, context: context).output } }
            var backwardTime: Double? = nil
            if backward {
                let seed = Tensor.randomNormal(shape: input.shape, generator: &generator)
                let parameters = layer.trainableParameters().map(\.parameter)
                backwardTime = medianMilliseconds(repeats: `repeat`) {
                    _ = inputAndWeightGradients(input: input, seed: seed, parameters: parameters) { layer.attend($0, context: context).output }
                }
            }
            var fields = try commonFields(length: n)
            fields[fields.firstIndex { $0.0 == "causal" }!].1 = causal || layer.isAlwaysCausal
            try report(fields + [("forward_ms", rounded(forward)), ("backward_ms", backwardTime.map(rounded) ?? NSNull()),
                                 ("peak_rss_bytes", peakResidentBytes()), ("threads", Threading.count)])
        }
    }
}
