import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN

extension Bench {
    /// `--model lsra`: times one Lite Transformer encoder layer (``TransformerBlock/longShortRange(modelDimensions:heads:options:maximumLength:layer:layers:feedForwardDimensions:dropout:normalization:source:generator:)``:
    /// LSRA with the model's width split between full attention and a convolution branch,
    /// flattened feed-forward, post-LN) per length, forward and with `--backward` forward +
    /// backward. d_model = heads × head-dim (default 512: the paper's mobile setting, 256/256,
    /// 8 heads, kernel 31); `--mechanism lsra --option …` sets the LSRA options.
    /// benchmarks/pytorch/bench_lsra.py times the reference layer with the same shapes.
    /// gflops / backward_gflops: the rates by the layer's analytic count (LSRA branches and
    /// feed-forward products; layer norms and elementwise work left out) against gemm_gflops.
    func runLongShortRangeLayer() throws {
        let options = try longShortRangeOptions()
        var gemmRate: Double?
        for (index, n) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let block = try TransformerBlock.longShortRange(modelDimensions: heads * headDim, heads: heads, options: options, maximumLength: n,
                                                            source: RandomSource(seed: 1), generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, heads * headDim], generator: &generator)
            let context = AttentionContext(mask: AttentionMask(causal: causal))
            let (forward, backwardTime) = medianTimes(of: block, input: input, generator: &generator) { block.forward($0, context: context).output }
            let peakResident = peakResidentBytes()
            let flops = layerFlops(block, length: n)
            try report(settings: [("model", "lsra"), ("mechanism", AttentionConfiguration(options)), ("batch", batch), ("heads", heads),
                                  ("head_dim", headDim), ("causal", causal), ("threads", Threading.count)],
                       measurements: [("length", n), ("forward_ms", rounded(forward)), ("backward_ms", backwardTime.map(rounded) ?? NSNull())]
                                      + rateMeasurements(flops, forward: forward, backward: backwardTime, gemmRate: &gemmRate) + [
                                      ("peak_rss_bytes", peakResident)],
                       first: index == 0)
        }
    }

    /// The block's products at length `n`: its LSRA attention and its feed-forward (nil when the
    /// attention branch has no count).
    private func layerFlops(_ block: TransformerBlock, length n: Int) -> LayerFlops? {
        guard let attention = block.attention as? LongShortRangeAttention, attention.attention is AttentionFlopCounting else { return nil }
        return attention.flops(for: workload(length: n, causal: causal)) + block.feedForward.flops(rows: batch * n)
    }

    /// The LSRA options of `--mechanism lsra` / `--attention`, with `--kernel-size` unless they give
    /// one; the defaults with `--kernel-size` for full attention.
    private func longShortRangeOptions() throws -> LongShortRangeOptions {
        let attention = try attentionConfiguration()
        guard attention.type == LongShortRangeOptions.mechanism || attention == .full else {
            throw ValidationError("--model lsra: its attention branch is set with --mechanism lsra --option attention=…, got --mechanism \(attention.type)")
        }
        var options = attention.options as? LongShortRangeOptions ?? LongShortRangeOptions()
        options.kernelSize = options.kernelSize ?? .all(kernelSize)
        return options
    }
}
