import Foundation
import GlanceAttention
import GlanceCore
import Testing

/// The analytic counts of relative-position attention: Transformer-XL (causal, memory without
/// gradient, R projected once) and the encoder's 2T − 1 scheme.
@Suite struct RelativeAttentionFlopCountTests {
    @Test func transformerXLAtTheIssuesShape() throws {
        var generator = RandomGenerator(seed: 0)
        let layer = try RelativeMultiHeadAttention(modelDimensions: 512, heads: 8, generator: &generator)
        // Segment 512, memory 512: 3.356 GFLOP forward, 9.801 GFLOP forward + backward (46 ms at 212 GFLOP/s).
        let flops = layer.flops(for: AttentionWorkload(batch: 1, length: 512, memory: 512))
        #expect(flops.forward == 3_356_229_632)
        #expect(flops.forwardAndBackward == 9_800_777_728)
        #expect(layer.flops(for: AttentionWorkload(batch: 1, length: 1024, memory: 1024)).forwardAndBackward == 28_459_925_504)
    }

    @Test func encoderCountsAllPairsAndTwoTMinusOneDistances() {
        let (n, d): (Double, Double) = (256, 256)
        let flops = relativePositionAttentionFlops(AttentionWorkload(batch: 1, length: 256), modelDimensions: 256, width: 256,
                                                   distances: 511)
        let projections = 2 * d * d * (4 * n + 511), product = 2 * n * n * d
        #expect(flops.forward == projections + 3 * product)
        #expect(flops.forwardAndBackward == 2 * projections + 2 * d * d * 4 * n + 11 * product)
        #expect(flops.forward == 301_858_816 && flops.forwardAndBackward == 905_707_520)
    }
}
