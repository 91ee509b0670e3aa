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
    func runLongShortRangeLayer() throws {
        let options = try longShortRangeOptions()
        for (index, n) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let block = try TransformerBlock.longShortRange(modelDimensions: heads * headDim, heads: heads, options: options, maximumLength: n,
                                                            source: RandomSource(seed: 1), generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, heads * headDim], generator: &generator)
            let context = AttentionContext(mask: AttentionMask(causal: causal))
            let (forward, backwardTime) = medianTimes(of: block, input: input, generator: &generator) { block.forward($0, context: context).output }
            try report(settings: [("model", "lsra"), ("mechanism", AttentionConfiguration(options)), ("batch", batch), ("heads", heads),
                                  ("head_dim", headDim), ("causal", causal), ("threads", Threading.count)],
                       measurements: [("length", n), ("forward_ms", rounded(forward)), ("backward_ms", backwardTime.map(rounded) ?? NSNull()),
                                      ("peak_rss_bytes", peakResidentBytes())],
                       first: index == 0)
        }
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
