import GlanceCore

/// Incremental decoding for ``Longformer``'s causal sliding window.
extension Longformer {
    /// The earlier positions a causal query can reach: w·δ for the largest dilation δ.
    public var causalReach: Int { oneSidedWindow * (dilation.max() ?? 1) }

    /// An empty ``KeyValueCache`` that keeps only the last ``causalReach`` positions before each call.
    public func makeCache(batch: Int) throws -> any AttentionCache {
        let width = modelDimensions / heads
        return KeyValueCache(batch: batch, heads: heads, keyDimensions: width, valueDimensions: width, retaining: causalReach)
    }

    /// The next positions of `input` under the causal window: query i of head h sees the keys
    /// i − δ·c, c = 0…w, that exist (δ = `dilation[h]`), cached or new.
    func attendIncrementally(_ input: Tensor, cache: KeyValueCache) -> AttentionOutput {
        let q = query(input).splittingHeads(heads)
        cache.append(keys: key(input).splittingHeads(heads), values: value(input).splittingHeads(heads))
        let window = oneSidedWindow
        let attended = cache.attention(queries: q, scale: 1 / Float(modelDimensions / heads).squareRoot()) { [dilation] head, position in
            let step = dilation[head]
            return stride(from: position - step * Swift.min(window, position / step), through: position, by: step)
        }
        return AttentionOutput(output(attended.mergingHeads()))
    }
}
