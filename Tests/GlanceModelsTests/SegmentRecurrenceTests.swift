import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Transformer-XL's segment-level recurrence in the character language model.
@Suite struct SegmentRecurrenceTests {
    /// Two layers, context 8, d 16, transformer_xl with `mem_len` 4 and no absolute positions.
    func model(_ options: TransformerXLOptions, seed: UInt64 = 5) throws -> CharacterLanguageModel {
        var c = tinyModel(layers: 2, positions: "none")
        c.context = 8
        c.attention = AttentionConfiguration(options)
        return try CharacterLanguageModel(configuration: c, seed: seed)
    }

    static let variants: [TransformerXLOptions] = [
        TransformerXLOptions(clampLength: nil, memoryLength: 4),
        TransformerXLOptions(clampLength: 2, memoryLength: 4),
        TransformerXLOptions(clampLength: nil, sameLength: true, memoryLength: 4),
    ]

    /// With mem_len = the segment length n and the relative encodings shared by all layers,
    /// segment 2 after the memory of segment 1 equals the plain causal forward over
    /// [segment 1; segment 2] (2n ≤ context) at its last n positions: under causal attention
    /// the first n positions of every layer do not depend on the later ones, so layer l's
    /// memory is exactly the plain forward's layer-l input at positions 0..<n. The new
    /// memories equal the last n layer inputs of the long forward.
    @Test("memory forward equals the plain causal forward over [previous segment; segment] at the last positions",
          arguments: variants)
    func memoryEqualsLongerContext(options: TransformerXLOptions) throws {
        let m = try model(options)
        var random = TestRandom(seed: 3)
        let ids = random.indices([2, 8], below: 256)
        let first = IndexTensor(ids.values.enumerated().filter { $0.offset % 8 < 4 }.map(\.element), shape: [2, 4])
        let second = IndexTensor(ids.values.enumerated().filter { $0.offset % 8 >= 4 }.map(\.element), shape: [2, 4])
        withoutGradients {
            let long = m.forward(ids, memories: [])
            #expect(maxAbsoluteDifference(long.logits.output, m(ids)) == 0, "no memory: the plain forward")
            let firstSegment = m.forward(first, memories: [])
            #expect(firstSegment.memories.map(\.shape) == [[2, 4, 16], [2, 4, 16]])
            let secondSegment = m.forward(second, memories: firstSegment.memories)
            let expected = long.logits.output.sliced(alongAxis: 1, 4..<8)
            #expect(isClose(secondSegment.logits.output, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5),
                    "max difference \(maxAbsoluteDifference(secondSegment.logits.output, expected))")
            for (memory, reference) in zip(secondSegment.memories, long.memories) {
                #expect(isClose(memory, reference, relativeTolerance: 1e-4, absoluteTolerance: 1e-5))
            }
        }
    }

    @Test("a memory keeps the last mem_len layer inputs, the embedding output first, without gradient")
    func memoryContents() throws {
        let m = try model(TransformerXLOptions(clampLength: nil, memoryLength: 6))
        let ids = IndexTensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 8])
        let (_, gradients) = valueAndGradient(model: m) { _ in
            let first = m.forward(ids, memories: [])
            #expect(first.memories.allSatisfy { !$0.requiresGradient && $0.shape == [1, 6, 16] })
            #expect(maxAbsoluteDifference(first.memories[0], m.input(ids).sliced(alongAxis: 1, 2..<8)) == 0)
            let next = m.forward(IndexTensor([9, 10, 11], shape: [1, 3]), memories: first.memories)
            #expect(next.memories.allSatisfy { !$0.requiresGradient && $0.shape == [1, 6, 16] })
            let carried = concatenate([first.memories[0], m.input(IndexTensor([9, 10, 11], shape: [1, 3]))], alongAxis: 1)
            #expect(maxAbsoluteDifference(next.memories[0], carried.sliced(alongAxis: 1, 3..<9)) == 0)
            return next.logits.output.sum()
        }
        #expect(gradients["input.tokenEmbedding.weight"] != nil)
    }

    @Test("gradients through the memory forward match finite differences with respect to the memories")
    func memoryGradients() throws {
        let m = try model(TransformerXLOptions(clampLength: nil, memoryLength: 4))
        var random = TestRandom(seed: 8)
        let memories = [random.normal([1, 4, 16]), random.normal([1, 4, 16])]
        let ids = IndexTensor([65, 66, 67], shape: [1, 3])
        expectGradientsMatch(memories, "memories") { m.forward(ids, memories: $0).logits.output }
    }

    @Test("transformer_xl needs positions 'none', and a memory cannot be reversible")
    func configurationErrors() throws {
        func error(_ json: String) -> ConfigurationValueError? {
            do {
                try JSONDecoder().decode(LanguageModelConfiguration.self, from: Data(json.utf8)).validate()
                return nil
            } catch { return error as? ConfigurationValueError }
        }
        let xl = #""attention": {"type": "transformer_xl", "mem_len": 8}"#
        #expect(error("{\(xl)}")?.field == "model.positions")
        #expect(error(#"{"positions": "sinusoidal", \#(xl)}"#)?.field == "model.positions")
        #expect(error(#"{"positions": "none", "reversible": true, \#(xl)}"#)?.field == "model.reversible")
        #expect(error(#"{"positions": "none", \#(xl)}"#) == nil)
        #expect(error(#"{"positions": "none", "reversible": true, "attention": "transformer_xl"}"#) == nil, "no memory: reversible is fine")
        #expect(try JSONDecoder().decode(LanguageModelConfiguration.self, from: Data("{\(xl)}".utf8)).memoryLength == 8)
        #expect(LanguageModelConfiguration().memoryLength == 0)
    }
}
