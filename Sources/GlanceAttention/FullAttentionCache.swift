import GlanceCore

/// Incremental decoding for ``FullAttention``: every earlier key and value is kept.
extension FullAttention {
    /// An empty ``KeyValueCache`` of every position's keys and values.
    public func makeCache(batch: Int) throws -> any AttentionCache {
        KeyValueCache(batch: batch, heads: heads, keyDimensions: modelDimensions / heads, valueDimensions: modelDimensions / heads)
    }

    /// The next positions of `input` against the cache: query i of the n new ones sees every
    /// cached position and the new positions up to itself (the causal diagonal shifted by the
    /// cache's length). On an empty cache (a prompt) this is the ordinary causal path.
    func attendIncrementally(_ input: Tensor, cache: KeyValueCache) -> AttentionOutput {
        let q = query(input).splittingHeads(heads)
        let k = key(input).splittingHeads(heads)
        let v = value(input).splittingHeads(heads)
        let isFirstCall = cache.length == 0
        cache.append(keys: k, values: v)
        let attended = isFirstCall
            ? scaledDotProductAttention(queries: q, keys: k, values: v, causal: true)
            : cache.attention(queries: q, scale: 1 / Float(modelDimensions / heads).squareRoot()) { _, position in 0...position }
        return AttentionOutput(output(attended.mergingHeads()))
    }
}
