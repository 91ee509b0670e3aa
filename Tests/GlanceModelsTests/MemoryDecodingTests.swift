import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Generation with segment-level recurrence: each new token read alone after the memories.
@Suite struct MemoryDecodingTests {
    /// Two layers, context 8, d 16, no absolute positions, the given attention.
    func model(_ options: any AttentionOptions) throws -> CharacterLanguageModel {
        var c = tinyModel(layers: 2, positions: "none")
        c.context = 8
        c.attention = AttentionConfiguration(options)
        return try CharacterLanguageModel(configuration: c, seed: 21)
    }

    static let mechanisms: [any AttentionOptions & Sendable] = [
        TransformerXLOptions(clampLength: nil, memoryLength: 12),
        AdaptiveSpanOptions(span: 16, ramp: 4, initialRatio: 1, cache: true),
    ]

    /// The prompt spans two segments (9 > context 8); every later token is one position. While
    /// the text stays within memory + 1 tokens, the logits are the memory-less forward's at the
    /// last position of the whole text (read here in one forward, context raised to fit).
    @Test("each new token after the memories equals the memory-less forward over the whole text at its last position",
          arguments: 0..<2)
    func tokenAfterMemoryEqualsWholeText(mechanism: Int) throws {
        let m = try model(Self.mechanisms[mechanism])
        var wide = m.configuration
        wide.context = 13
        let whole = try CharacterLanguageModel(configuration: wide, seed: 21)
        try whole.update(parameters: Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.key, $0.parameter.value) }))
        m.eval()
        whole.eval()
        var random = TestRandom(seed: 8)
        let text = random.indices([13], below: 256).values
        var memories: [Tensor] = []
        var logits = m.nextTokenLogits(after: Array(text[0..<9]), memories: &memories)
        for end in 9...13 {
            if end > 9 { logits = m.nextTokenLogits(after: [text[end - 1]], memories: &memories) }
            let expected = withoutGradients { whole(IndexTensor(Array(text[0..<end]), shape: [1, end])) }.scalars.suffix(256)
            let difference = zip(logits, expected).map { abs($0 - $1) }.max()!
            #expect(difference < 1e-4, "after \(end) tokens: max difference \(difference)")
        }
        #expect(memories.indices.allSatisfy { memories[$0].shape == [1, min(13, m.keptStates(layer: $0)), 16] }, "\(memories.map(\.shape))")
    }

    @Test("generate with caching reads after the memory: greedy tokens equal the memory-less model's", arguments: 0..<2)
    func greedyGeneration(mechanism: Int) throws {
        let m = try model(Self.mechanisms[mechanism])
        m.eval()
        var first = RandomGenerator(seed: 1), second = RandomGenerator(seed: 1)
        let prompt = [72, 101, 108]
        let cached = m.generate(prompt: prompt, count: 5, temperature: 0, topK: nil, generator: &first)
        let recomputed = m.generate(prompt: prompt, count: 5, temperature: 0, topK: nil, caching: false, generator: &second)
        #expect(cached == recomputed, "the text (8 tokens) fits the context, so recomputing sees the same positions")
    }
}
