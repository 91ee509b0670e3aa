import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN

extension Bench {
    /// `--model conformer`: times one Conformer block (relative-position attention, convolution
    /// module, two half feed-forwards of width 4d) per length, forward and, with `--backward`,
    /// forward + backward in training mode; and the depthwise convolution alone, with its
    /// throughput: the bytes it must move (input, output, weight) per second. gflops and
    /// backward_gflops are the rates by ``ConformerBlock/flops(batch:length:)``.
    func runConformerBlock() throws {
        var gemmRate: Double?
        guard kernelSize >= 1 && kernelSize % 2 == 1 else { throw ValidationError("--kernel-size must be odd and positive, got \(kernelSize)") }
        let paperSizes = heads == 8 && headDim == 64
        let (blockHeads, width) = paperSizes ? (4, 256) : (heads, heads * headDim)
        for (index, n) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let attention = try RelativePositionSelfAttention(modelDimensions: width, heads: blockHeads, generator: &generator)
            let block = ConformerBlock(attention: attention, feedForwardDimensions: 4 * width, kernelSize: kernelSize, dropout: 0,
                                       source: RandomSource(seed: 1), generator: &generator)
            let input = Tensor.randomNormal(shape: [batch, n, width], generator: &generator)
            let context = AttentionContext(relativePositions: encoderRelativeEncodings(length: n, dimensions: width))
            block.eval()
            let forward = medianMilliseconds(repeats: `repeat`) {
                _ = withoutGradients { block.forward(input, context: context, validFrames: nil).output }
            }
            var backwardTime: Double? = nil
            if backward {
                block.train()
                let seed = Tensor.randomNormal(shape: input.shape, generator: &generator)
                let parameters = block.trainableParameters().map(\.parameter)
                backwardTime = medianMilliseconds(repeats: `repeat`) {
                    _ = inputAndWeightGradients(input: input, seed: seed, parameters: parameters) {
                        block.forward($0, context: context, validFrames: nil).output
                    }
                }
            }
            let depthwise = block.convolution!.depthwise
            let depthwiseTime = medianMilliseconds(repeats: `repeat`) { _ = withoutGradients { depthwise(input) } }
            let bytes = Double(4 * (2 * input.count + depthwise.weight.value.count))
            let peakResident = peakResidentBytes()
            let flops = block.flops(batch: batch, length: n)
            try report(settings: [("mechanism", "conformer"), ("options", ["kernel_size": kernelSize]), ("batch", batch),
                                  ("heads", blockHeads), ("head_dim", width / blockHeads), ("kernel_size", kernelSize), ("causal", false),
                                  ("threads", Threading.count)],
                       measurements: [("length", n), ("forward_ms", rounded(forward)), ("backward_ms", backwardTime.map(rounded) ?? NSNull())]
                                      + rateMeasurements(flops, forward: forward, backward: backwardTime, gemmRate: &gemmRate) + [
                                      ("depthwise_forward_ms", rounded(depthwiseTime)), ("depthwise_gb_per_s", rounded(bytes / depthwiseTime / 1e6)),
                                      ("peak_rss_bytes", peakResident)],
                       first: index == 0)
        }
    }
}
