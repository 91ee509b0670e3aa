import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Adaptive Span's cache in the character language model: each layer carries the hidden
/// states its window reaches from segment to segment.
@Suite struct AdaptiveSpanCacheTests {
    /// Two layers, context 8, d 16, no absolute positions, adaptive_span with the cache.
    func model(span: Int, initialRatio: Float) throws -> CharacterLanguageModel {
        var c = tinyModel(layers: 2, positions: "none")
        c.context = 8
        c.attention = AttentionConfiguration(AdaptiveSpanOptions(span: span, ramp: 4, initialRatio: initialRatio, cache: true))
        return try CharacterLanguageModel(configuration: c, seed: 9)
    }

    /// With a window longer than both segments, segment 2 after segment 1's cache equals the
    /// plain causal forward over [segment 1; segment 2] at its last positions.
    @Test("segment 2 with the cache equals the plain forward over both segments at the last positions")
    func cacheEqualsLongerContext() throws {
        let m = try model(span: 16, initialRatio: 1)
        #expect(m.memoryLength == 15 && m.keptStates(layer: 0) == 15)
        var random = TestRandom(seed: 4)
        let ids = random.indices([2, 8], below: 256)
        let first = IndexTensor(ids.values.enumerated().filter { $0.offset % 8 < 4 }.map(\.element), shape: [2, 4])
        let second = IndexTensor(ids.values.enumerated().filter { $0.offset % 8 >= 4 }.map(\.element), shape: [2, 4])
        withoutGradients {
            let long = m(ids)
            let firstSegment = m.forward(first, memories: [])
            #expect(firstSegment.memories.map(\.shape) == [[2, 4, 16], [2, 4, 16]])
            let secondSegment = m.forward(second, memories: firstSegment.memories)
            let expected = long.sliced(alongAxis: 1, 4..<8)
            #expect(isClose(secondSegment.logits.output, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5),
                    "max difference \(maxAbsoluteDifference(secondSegment.logits.output, expected))")
            #expect(secondSegment.memories.map(\.shape) == [[2, 8, 16], [2, 8, 16]], "the cache grows up to W − 1")
        }
    }

    /// Short learned spans trim the window, and the cache keeps only W − 1 states.
    @Test("the cache keeps only the W − 1 states the current spans reach")
    func cacheFollowsTheSpans() throws {
        let m = try model(span: 200, initialRatio: 0)
        let window = try #require(m.blocks.layers[0].attention as? AdaptiveSpanAttention).window
        #expect(window == 8 && m.keptStates(layer: 1) == 7 && m.memoryLength == 199)
        var random = TestRandom(seed: 5)
        let ids = random.indices([1, 8], below: 256)
        let memories = withoutGradients { m.forward(ids, memories: m.forward(ids, memories: []).memories).memories }
        #expect(memories.map(\.shape) == [[1, 7, 16], [1, 7, 16]])
    }

    @Test("a cache needs a non-reversible stack")
    func cacheIsNotReversible() throws {
        var c = tinyModel(layers: 2, positions: "none")
        c.attention = AttentionConfiguration(AdaptiveSpanOptions(span: 8, cache: true))
        c.reversible = true
        #expect(throws: ConfigurationValueError.self) { try c.validate() }
        c.attention = AttentionConfiguration(AdaptiveSpanOptions(span: 8))
        try c.validate()
    }
}
