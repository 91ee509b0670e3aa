import Foundation
import GlanceAttention
import GlanceCore
import Testing

@Suite struct AttentionFlopCountTests {
    func layer(_ json: String, length: Int, width: Int = 64) throws -> any AttentionMechanism {
        var generator = RandomGenerator(seed: 0)
        let configuration = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8))
        return try configuration.make(shape: AttentionShape(modelDimensions: width, heads: 4, maximumLength: length),
                                      build: AttentionBuild(required: .bidirectional), generator: &generator)
    }

    @Test func fullAttentionCountsProjectionsAndFivePairProductsBackward() throws {
        let counted = try #require(try layer(#"{"type": "full"}"#, length: 32) as? AttentionFlopCounting)
        let n: Double = 32, d: Double = 64
        let projections: Double = 4 * 2 * n * d * d, product: Double = 2 * n * n * d
        let flops = counted.flops(for: AttentionWorkload(batch: 1, length: 32))
        #expect(flops.forward == projections + 2 * product)
        #expect(flops.forwardAndBackward == 3 * projections + 7 * product)
        let causal = counted.flops(for: AttentionWorkload(batch: 2, length: 32, causal: true))
        let causalPairs: Double = n * (n + 1) / 2
        let causalForward: Double = projections + 2 * 2 * causalPairs * d
        #expect(causal.forward == 2 * causalForward)
    }

    @Test func theIssuesFigureForFullAttention() throws {
        // d_model 512 at n = 4,096: about 146 GFLOP forward + backward with recomputation.
        let counted = try #require(try layer(#"{"type": "full"}"#, length: 4096, width: 512) as? AttentionFlopCounting)
        let total = counted.flops(for: AttentionWorkload(batch: 1, length: 4096)).forwardAndBackward
        #expect(Swift.abs(total / 1e9 - 146.0) < 0.1, "\(total / 1e9) GFLOP")
    }

    @Test func linearMechanismsScaleWithTheirRank() throws {
        let linformer = try #require(try layer(#"{"type": "linformer", "k": 8}"#, length: 32) as? AttentionFlopCounting)
        let performer = try #require(try layer(#"{"type": "performer", "features": 8}"#, length: 32) as? AttentionFlopCounting)
        let workload = AttentionWorkload(batch: 1, length: 32)
        let projections: Double = 4 * 2 * 32 * 64 * 64, rankProducts: Double = 4 * 2 * 32 * 8 * 64
        #expect(linformer.flops(for: workload) == LayerFlops(forwardOnly: projections + rankProducts))
        #expect(performer.flops(for: workload) == LayerFlops(forwardOnly: projections + rankProducts))
    }

    @Test func longformerCountsItsWindow() throws {
        let longformer = try #require(try layer(#"{"type": "longformer", "window": 8}"#, length: 64) as? AttentionFlopCounting)
        let flops = longformer.flops(for: AttentionWorkload(batch: 1, length: 64))
        let projections: Double = 4 * 2 * 64 * 64 * 64, window: Double = 2 * 2 * 64 * 9 * 64
        #expect(flops.forward == projections + window)
    }

    @Test func longShortRangeCountsBothBranches() throws {
        // The bench's layer: d 512 split 256/256, 8 heads, kernel 31, GLU: full attention at
        // width 256, and the convolution branch's C → 2C, 31 taps and C → C per position.
        let json = #"{"type": "lsra", "kernel_size": 31}"#
        let counted = try #require(try layer(json, length: 512, width: 512) as? AttentionFlopCounting)
        let n: Double = 512, width: Double = 256
        let projections: Double = 4 * 2 * n * width * width, product: Double = 2 * n * n * width
        let convolution: Double = 2 * n * width * 2 * width + 2 * n * width * 31 + 2 * n * width * width
        let flops = counted.flops(for: AttentionWorkload(batch: 1, length: 512))
        #expect(flops.forward == projections + 2 * product + convolution)
        #expect(flops.forwardAndBackward == 3 * projections + 7 * product + 3 * convolution)
    }
}
