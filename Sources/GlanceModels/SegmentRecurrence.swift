import GlanceAttention
import GlanceCore
import GlanceNN

extension LanguageModelConfiguration {
    /// Transformer-XL's `mem_len`: the hidden states each layer keeps from segment to segment
    /// (0 for every other mechanism, and for transformer_xl without `mem_len`).
    public var memoryLength: Int { (attention.options as? TransformerXLOptions)?.memoryLength ?? 0 }
}

/// What a forward pass with segment-level recurrence returns.
public struct SegmentOutput: @unchecked Sendable {
    /// Next-token logits [batch, length, vocabulary], with the blocks' auxiliary loss.
    public var logits: AttentionOutput
    /// Per layer, the memory of the next segment [batch, ≤ mem_len, d_model] (no gradient).
    public var memories: [Tensor]
}

extension CharacterLanguageModel {
    /// The hidden states each layer keeps from segment to segment (``LanguageModelConfiguration/memoryLength``).
    public var memoryLength: Int { configuration.memoryLength }

    /// Transformer-XL's segment-level recurrence: block l attends causally over
    /// [`memories[l]`; its input] with the relative encodings of all those keys (shared by every
    /// layer), and the new memory of layer l is the last `mem_len` positions of
    /// [`memories[l]`; layer l's input], detached (layer 0's input is the embedding output).
    /// `memories` is empty for the first segment, else one [batch, M, d_model] per layer.
    public func forward(_ ids: IndexTensor, memories: [Tensor]) -> SegmentOutput {
        precondition(ids.shape.count == 2, "token ids must be [batch, length], got \(ids.shape)")
        precondition(ids.shape[1] <= configuration.context, "segment of \(ids.shape[1]) exceeds the model context \(configuration.context)")
        precondition(!blocks.reversible, "segment-level recurrence needs a non-reversible stack")
        precondition(memories.isEmpty || (memories.count == blocks.count && memories.allSatisfy { $0.shape == memories[0].shape }),
                     "one memory of one shape per layer (\(blocks.count) layers), got \(memories.map(\.shape))")
        let memoryCount = memories.first?.shape[1] ?? 0
        let encodings = transformerXLRelativeEncodings(keys: memoryCount + ids.shape[1], dimensions: configuration.modelDimensions)
        var hidden = AttentionOutput(input(ids))
        var next: [Tensor] = []
        for (layer, block) in blocks.enumerated() {
            let memory = memories.isEmpty ? nil : memories[layer]
            next.append(lastStates(of: memory, then: hidden.output))
            let step = block.forward(hidden.output, context: AttentionContext(mask: .causal, memory: memory, relativePositions: encodings))
            hidden = AttentionOutput(step.output, auxiliaryLoss: summing(hidden.auxiliaryLoss, step.auxiliaryLoss))
        }
        hidden.output = head(hidden.output)
        return SegmentOutput(logits: hidden, memories: next)
    }

    /// Mean next-token cross-entropy of a segment after `memories` (plus auxiliary losses), and the next memories.
    public func loss(inputs: IndexTensor, targets: [Int], memories: [Tensor]) -> (loss: Tensor, memories: [Tensor]) {
        let result = forward(inputs, memories: memories)
        let logits = result.logits.output.reshaped(to: [-1, configuration.vocabularySize])
        return (result.logits.addingAuxiliaryLoss(to: crossEntropy(logits: logits, targets: targets)), result.memories)
    }

    /// The last `memoryLength` positions of [memory; states], without gradient.
    private func lastStates(of memory: Tensor?, then states: Tensor) -> Tensor {
        withoutGradients {
            let all = memory.map { concatenate([$0, states], alongAxis: 1) } ?? states
            let count = all.shape[1]
            return all.sliced(alongAxis: 1, Swift.max(0, count - memoryLength)..<count).detached()
        }
    }
}
