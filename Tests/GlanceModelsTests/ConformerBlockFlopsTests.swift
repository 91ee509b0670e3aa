import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import Testing

/// The analytic operation count of the bench's Conformer block, by hand for d 256, 4 heads,
/// hidden 1,024, kernel 31, 1,000 frames.
@Suite struct ConformerBlockFlopsTests {
    @Test("the bench block's count: feed-forwards, relative attention, convolution module")
    func benchBlock() throws {
        var generator = RandomGenerator(seed: 0)
        let attention = try RelativePositionSelfAttention(modelDimensions: 256, heads: 4, generator: &generator)
        let block = ConformerBlock(attention: attention, feedForwardDimensions: 1024, kernelSize: 31, dropout: 0, source: RandomSource(seed: 1),
                                   generator: &generator)
        let flops = try #require(block.flops(batch: 1, length: 1000))
        // Feed-forwards 2·2·(2·1000·256·1024); attention: projections 2·256²·(4·1000 + 1999), three 2·1000²·256
        // pair products; convolution module 2·1000·256·(768 + 31).
        let feedForwards: Double = 2_097_152_000, projections: Double = 786_300_928, pairs: Double = 512_000_000
        let convolution: Double = 409_088_000
        let forward: Double = feedForwards + projections + 3 * pairs + convolution
        #expect(flops.forward == forward)
        // Backward: twice each product, the attention's input gradients for 4·1000 rows only, its pair products 8 more.
        let inputGradients: Double = 524_288_000
        let backward: Double = 2 * feedForwards + projections + inputGradients + 8 * pairs + 2 * convolution
        #expect(flops.forwardAndBackward == forward + backward)
    }
}
