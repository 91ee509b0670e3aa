import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The two evaluations of Dai et al.'s speed comparison: streamed with memory, and a vanilla
/// window slid one byte per prediction.
@Suite struct LanguageModelEvaluationTests {
    static let text: [UInt8] = Array("the quick brown fox jumps over the lazy dog, then the dog sleeps.".utf8)

    func model(_ options: any AttentionOptions, positions: String = "none") throws -> CharacterLanguageModel {
        var c = tinyModel(layers: 2, positions: positions)
        c.context = 8
        c.attention = AttentionConfiguration(options)
        return try CharacterLanguageModel(configuration: c, seed: 4)
    }

    /// The mean cross-entropy of every next byte, segment after segment with the memories.
    @Test("streamed score: every byte after the first predicted once, the loss of the segments with memory")
    func streamed() throws {
        let m = try model(TransformerXLOptions(clampLength: nil, memoryLength: 8))
        let score = m.streamedScore(of: Self.text, segment: 5)
        #expect(score.predictions == Self.text.count - 1 && score.seconds >= 0)
        var memories: [Tensor] = [], total = 0.0
        withoutGradients {
            for start in stride(from: 0, to: Self.text.count - 1, by: 5) {
                let end = min(start + 5, Self.text.count - 1)
                let result = m.forward(IndexTensor(Self.text[start..<end].map(Int.init), shape: [1, end - start]), memories: memories)
                memories = result.memories
                let loss = crossEntropy(logits: result.logits.output.reshaped(to: [-1, 256]), targets: Self.text[(start + 1)...end].map(Int.init))
                total += Double(loss.item()) * Double(end - start)
            }
        }
        #expect(abs(score.loss - total / Double(Self.text.count - 1)) < 1e-5)
        #expect(abs(score.bitsPerCharacter - score.loss / log(2)) < 1e-9)
        #expect(m.isTraining, "the model's mode is restored")
    }

    /// Each sampled position: the loss of its byte after the window before it, from the
    /// plain forward's last position.
    @Test("sliding score: evenly spaced positions, each byte after a recomputed window", arguments: ["sinusoidal", "learned"])
    func sliding(positions: String) throws {
        let m = try model(FullAttentionOptions(), positions: positions)
        m.eval()
        let score = m.slidingScore(of: Self.text, window: 6, positions: 4)
        #expect(score.predictions == 4)
        let available = Self.text.count - 6
        let sampled = (0..<4).map { 6 + $0 * (available - 1) / 3 }
        #expect(sampled.first == 6 && sampled.last == Self.text.count - 1)
        let losses = withoutGradients {
            sampled.map { p -> Double in
                let logits = m(IndexTensor(Self.text[(p - 6)..<p].map(Int.init), shape: [1, 6])).sliced(alongAxis: 1, 5..<6).reshaped(to: [1, 256])
                return Double(crossEntropy(logits: logits, targets: [Int(Self.text[p])]).item())
            }
        }
        #expect(abs(score.loss - losses.reduce(0, +) / 4) < 1e-5)
    }
}
