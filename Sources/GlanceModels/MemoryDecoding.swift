import GlanceCore
import GlanceNN

extension CharacterLanguageModel {
    /// Samples `count` tokens after `prompt` (not empty) with segment-level recurrence
    /// (Transformer-XL's memory, Adaptive Span's cache): the prompt is read in segments of at
    /// most `context` tokens, then each new token alone after the memories, so that it costs one
    /// position attending over what each layer keeps (``keptStates(layer:)``) instead of a
    /// recomputed window. While the text fits in that memory plus one token, each step's logits
    /// are those of the memory-less forward over the whole text at its last position.
    public func generateWithMemory(after prompt: [Int], count: Int, temperature: Float, topK: Int?,
                                   generator: inout RandomGenerator) -> [Int] {
        precondition(!prompt.isEmpty, "generation with memory needs a prompt of at least one token")
        var memories: [Tensor] = [], tokens: [Int] = []
        var logits = nextTokenLogits(after: prompt, memories: &memories)
        for step in 0..<count {
            tokens.append(sampleToken(logits, temperature: temperature, topK: topK, generator: &generator))
            if step + 1 < count { logits = nextTokenLogits(after: [tokens.last!], memories: &memories) }
        }
        return tokens
    }

    /// The next-token logits after `tokens` (not empty) read after `memories` (empty at the
    /// start) in segments of at most `context` tokens; `memories` become those after `tokens`.
    /// Inference: no gradients are recorded.
    public func nextTokenLogits(after tokens: [Int], memories: inout [Tensor]) -> [Float] {
        precondition(memoryLength > 0 && !tokens.isEmpty, "next-token logits with memory need a model with a memory and at least one token")
        var logits: [Float] = []
        withoutGradients {
            for start in stride(from: 0, to: tokens.count, by: configuration.context) {
                let segment = Array(tokens[start..<Swift.min(start + configuration.context, tokens.count)])
                let result = forward(IndexTensor(segment, shape: [1, segment.count]), memories: memories)
                memories = result.memories
                logits = Array(result.logits.output.scalars.suffix(configuration.vocabularySize))
            }
        }
        return logits
    }
}
