import GlanceAttention
import GlanceCore
import GlanceNN

/// One attention cache per block of a ``CharacterLanguageModel`` decoding a few tokens at a
/// time: what ``CharacterLanguageModel/callAsFunction(_:cache:)`` reads and extends.
public final class LanguageModelCache {
    /// Sequences decoded side by side.
    public let batch: Int
    /// The caches of the blocks, in order.
    public let layers: [any AttentionCache]
    /// Tokens seen so far; the next token takes this position.
    public internal(set) var length = 0

    init(batch: Int, layers: [any AttentionCache]) {
        (self.batch, self.layers) = (batch, layers)
    }
}

extension CharacterLanguageModel {
    /// Whether every block's attention decodes incrementally (``AttentionCapabilities/incremental``).
    public var supportsIncrementalDecoding: Bool {
        blocks.allSatisfy { $0.attention.capabilities.contains(.incremental) }
    }

    /// An empty cache for `batch` sequences; throws an ``AttentionCapabilityError`` naming the
    /// first block's mechanism that cannot decode incrementally.
    public func makeCache(batch: Int = 1) throws -> LanguageModelCache {
        LanguageModelCache(batch: batch, layers: try blocks.map { try $0.attention.makeCache(batch: batch) })
    }

    /// Next-token logits [batch, n, vocabulary] for the next n tokens `ids` [batch, n] after the
    /// `cache.length` tokens the cache has seen, which it then holds too: the last n rows of
    /// `self(all tokens so far)`, at the cost of n positions. Positions (learned or sinusoidal)
    /// continue from `cache.length`, so `cache.length + n` may not exceed the context.
    /// Inference only: call it inside `withoutGradients`.
    public func callAsFunction(_ ids: IndexTensor, cache: LanguageModelCache) -> Tensor {
        precondition(ids.shape.count == 2 && ids.shape[0] == cache.batch,
                     "token ids must be [\(cache.batch), length] for this cache, got \(ids.shape)")
        let start = cache.length, end = start + ids.shape[1]
        precondition(end <= configuration.context,
                     "positions \(start)..<\(end) exceed the model context \(configuration.context): start a new cache")
        var x = embed(ids, firstPosition: start)
        let contexts = cache.layers.map { AttentionContext(mask: .causal, cache: $0) }
        if configuration.reversible {
            // The reversible stack's forward: y1 = x1 + Attention(x2), y2 = x2 + FFN(y1).
            var (x1, x2) = (x, x)
            for (block, context) in zip(blocks, contexts) {
                x1 = x1 + block.attentionSublayer(x2, context: context).output
                x2 = x2 + block.feedForwardSublayer(x1)
            }
            x = concatenate([x1, x2], alongAxis: 2)
        } else {
            for (block, context) in zip(blocks, contexts) { x = block.forward(x, context: context).output }
        }
        cache.length = end
        return head(finalNorm(x))
    }

    /// Samples `count` tokens after `prompt` (not empty) with one cache per block: the prompt's
    /// last `context` tokens are run once, then each new token alone.
    ///
    /// When the cache is full (it holds `context` tokens), the next token starts a new window:
    /// the caches are emptied and refilled with the last ⌈context/2⌉ tokens, so that refills
    /// cost one forward over half a context every half context (amortized, one more position
    /// per token). Up to the context the tokens equal the uncached path's; after it they follow
    /// these re-filled windows (between context/2 and context tokens), where the uncached path
    /// slides a window of exactly `context` tokens.
    public func generateIncrementally(after prompt: [Int], count: Int, temperature: Float, topK: Int?,
                                      generator: inout RandomGenerator) -> [Int] {
        precondition(!prompt.isEmpty, "incremental generation needs a prompt of at least one token")
        let context = configuration.context, refill = Swift.max(1, (context + 1) / 2)
        var tokens = prompt
        withoutGradients {
            var cache = freshCache()
            var logits = lastLogits(Array(tokens.suffix(context)), cache: cache)
            for step in 0..<count {
                tokens.append(sampleToken(logits, temperature: temperature, topK: topK, generator: &generator))
                guard step + 1 < count else { break }
                if cache.length == context {
                    cache = freshCache()
                    logits = lastLogits(Array(tokens.suffix(refill)), cache: cache)
                } else {
                    logits = lastLogits([tokens.last!], cache: cache)
                }
            }
        }
        return Array(tokens[prompt.count...])
    }

    /// A new cache for one sequence; the model's mechanisms must all decode incrementally.
    private func freshCache() -> LanguageModelCache {
        do { return try makeCache(batch: 1) } catch {
            preconditionFailure("a mechanism that declares incremental decoding failed to make its cache: \(error)")
        }
    }

    /// The next-token logits after `tokens`, which extend the cache.
    private func lastLogits(_ tokens: [Int], cache: LanguageModelCache) -> [Float] {
        Array(self(IndexTensor(tokens, shape: [1, tokens.count]), cache: cache).scalars.suffix(configuration.vocabularySize))
    }
}
