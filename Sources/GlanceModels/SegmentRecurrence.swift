import GlanceAttention
import GlanceCore
import GlanceNN

extension LanguageModelConfiguration {
    /// The most hidden states a layer keeps from segment to segment: Transformer-XL's
    /// `mem_len`, or S − 1 for Adaptive Span with `cache` (each layer keeps the W − 1 its
    /// current spans reach); 0 for every other mechanism. A model with a memory trains on
    /// contiguous streams of segments.
    public var memoryLength: Int {
        switch attention.options {
        case let options as TransformerXLOptions: options.memoryLength ?? 0
        case let options as AdaptiveSpanOptions where options.cache: (options.span ?? context) - 1
        default: 0
        }
    }
}

/// What a forward pass with segment-level recurrence returns.
public struct SegmentOutput: @unchecked Sendable {
    /// Next-token logits [batch, length, vocabulary], with the blocks' auxiliary loss.
    public var logits: AttentionOutput
    /// Per layer, the memory of the next segment [batch, ≤ memory length, d_model] (no gradient).
    public var memories: [Tensor]
}

extension CharacterLanguageModel {
    /// The hidden states each layer keeps from segment to segment (``LanguageModelConfiguration/memoryLength``).
    public var memoryLength: Int { configuration.memoryLength }

    /// Segment-level recurrence (Transformer-XL's, and Adaptive Span's cache): block l attends
    /// causally over [`memories[l]`; its input] (a relative-position mechanism with the
    /// encodings of all those keys), and the new memory of layer l is the last positions of
    /// [`memories[l]`; layer l's input] that it keeps (``keptStates(layer:)``), detached
    /// (layer 0's input is the embedding output). `memories` is empty for the first segment,
    /// else one [batch, M_l, d_model] per layer.
    public func forward(_ ids: IndexTensor, memories: [Tensor]) -> SegmentOutput {
        precondition(ids.shape.count == 2, "token ids must be [batch, length], got \(ids.shape)")
        precondition(ids.shape[1] <= configuration.context, "segment of \(ids.shape[1]) exceeds the model context \(configuration.context)")
        precondition(!blocks.reversible, "segment-level recurrence needs a non-reversible stack")
        precondition(memories.isEmpty || (memories.count == blocks.count && memories.allSatisfy { $0.rank == 3 && $0.shape[0] == ids.shape[0] }),
                     "one [batch, M, d_model] memory per layer (\(blocks.count) layers, batch \(ids.shape[0])), got \(memories.map(\.shape))")
        var encodings: [Int: RelativePositionEncoding] = [:]
        var hidden = AttentionOutput(input(ids))
        var next: [Tensor] = []
        for (layer, block) in blocks.enumerated() {
            let memory = memories.isEmpty ? nil : memories[layer]
            next.append(lastStates(of: memory, then: hidden.output, keeping: keptStates(layer: layer)))
            var context = AttentionContext(mask: .causal, memory: memory)
            if block.attention.capabilities.contains(.relativePositions) {
                let keys = (memory?.shape[1] ?? 0) + ids.shape[1]
                context.relativePositions = encodings[keys] ?? transformerXLRelativeEncodings(keys: keys, dimensions: configuration.modelDimensions)
                encodings[keys] = context.relativePositions
            }
            let step = block.forward(hidden.output, context: context)
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

    /// The hidden states layer `layer` keeps for the next segment: an Adaptive Span layer the
    /// W − 1 its current spans reach (keys beyond are never computed), any other `memoryLength`.
    public func keptStates(layer: Int) -> Int {
        (blocks.layers[layer].attention as? AdaptiveSpanAttention).map { Swift.min($0.window - 1, memoryLength) } ?? memoryLength
    }

    /// The last `count` positions of [memory; states], without gradient.
    private func lastStates(of memory: Tensor?, then states: Tensor, keeping count: Int) -> Tensor {
        withoutGradients {
            let all = memory.map { concatenate([$0, states], alongAxis: 1) } ?? states
            let length = all.shape[1]
            return all.sliced(alongAxis: 1, Swift.max(0, length - count)..<length).detached()
        }
    }
}
