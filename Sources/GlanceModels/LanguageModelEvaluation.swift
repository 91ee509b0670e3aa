import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// The next-byte loss of a language model over a text, and how long its forward passes took.
public struct LanguageModelScore: Sendable {
    /// Mean next-byte cross-entropy, in nats.
    public let loss: Double
    /// Bytes predicted.
    public let predictions: Int
    /// Wall-clock seconds of the forward passes.
    public let seconds: Double

    public var bitsPerCharacter: Double { loss / M_LN2 }
    /// Predicted bytes per second.
    public var predictionsPerSecond: Double { Double(predictions) / Swift.max(seconds, 1e-9) }
}

extension CharacterLanguageModel {
    /// Every byte of `bytes` after the first predicted once, reading the text as one stream of
    /// `segment`-byte segments with segment-level recurrence (``forward(_:memories:)``): each
    /// segment attends over the memory the earlier ones left (``keptStates(layer:)`` per
    /// layer) and costs one segment's forward, as Transformer-XL's evaluation. Inference mode.
    public func streamedScore(of bytes: [UInt8], segment: Int) -> LanguageModelScore {
        precondition(memoryLength > 0, "streamed evaluation needs a model with a memory (transformer_xl's mem_len, adaptive_span's cache)")
        precondition(bytes.count >= 2 && (1...configuration.context).contains(segment),
                     "streamed evaluation needs at least 2 bytes and a segment in 1...\(configuration.context), got \(bytes.count) bytes, segment \(segment)")
        return scoring { add in
            var memories: [Tensor] = []
            for batch in SegmentStreams.evaluationSegments(from: bytes, length: segment) {
                let result = loss(inputs: batch.inputs, targets: batch.targets, memories: memories)
                add(result.loss.item(), batch.targets.count)
                memories = result.memories
            }
        }
    }

    /// The vanilla evaluation (Al-Rfou et al., the baseline of Dai et al.'s speed claim): for
    /// each of `positions` evenly spaced positions p ≥ `window` of `bytes`, one forward over
    /// the `window` bytes before p, from scratch and without memory or cache, predicting only
    /// byte p from the last position. Inference mode.
    public func slidingScore(of bytes: [UInt8], window: Int, positions: Int) -> LanguageModelScore {
        precondition((1...configuration.context).contains(window), "the window must be in 1...\(configuration.context) (the model context), got \(window)")
        let available = bytes.count - window
        precondition(positions >= 1 && positions <= available,
                     "\(positions) positions to predict after a \(window)-byte window, \(available) available in \(bytes.count) bytes")
        return scoring { add in
            for index in 0..<positions {
                let position = window + (positions == 1 ? 0 : index * (available - 1) / (positions - 1))
                let ids = IndexTensor(bytes[(position - window)..<position].map(Int.init), shape: [1, window])
                let hidden = blocks.forward(input(ids), context: AttentionContext(mask: .causal)).output
                let logits = head(hidden.sliced(alongAxis: 1, (window - 1)..<window)).reshaped(to: [1, configuration.vocabularySize])
                add(crossEntropy(logits: logits, targets: [Int(bytes[position])]).item(), 1)
            }
        }
    }

    /// Runs `body` in inference mode without gradients, timing it; `body` adds each mean loss
    /// with the number of predictions it averages.
    private func scoring(_ body: (_ add: (Float, Int) -> Void) -> Void) -> LanguageModelScore {
        let wasTraining = isTraining
        eval()
        defer { if wasTraining { train() } }
        var total = 0.0, predictions = 0
        let start = Date()
        withoutGradients {
            body { loss, count in
                total += Double(loss) * Double(count)
                predictions += count
            }
        }
        return LanguageModelScore(loss: total / Double(Swift.max(predictions, 1)), predictions: predictions,
                                  seconds: Date().timeIntervalSince(start))
    }
}
