import GlanceCore

/// LogSparse's state for causal decoding: the keys and values of every position (the pattern
/// reaches back to the start) and the last K − 1 inputs of the query and key convolutions
/// (zeros before the start, as the convolutions' own padding).
public final class LogSparseCache: AttentionCache {
    public let keysAndValues: KeyValueCache
    /// The convolutions' last K − 1 inputs [batch, K − 1, modelDimensions]; nil when K = 1.
    public private(set) var recentInputs: Tensor?

    public init(batch: Int, heads: Int, modelDimensions: Int, queryKeyKernel: Int) {
        let width = modelDimensions / heads
        keysAndValues = KeyValueCache(batch: batch, heads: heads, keyDimensions: width, valueDimensions: width)
        recentInputs = queryKeyKernel > 1 ? Tensor.zeros([batch, queryKeyKernel - 1, modelDimensions]) : nil
    }

    /// Positions seen so far.
    public var length: Int { keysAndValues.length }

    /// `input` [batch, n, modelDimensions] preceded by the last K − 1 inputs, which then become
    /// the last K − 1 rows of the result: a causal convolution of kernel K over the result
    /// gives, at its last n rows, what it gives at these positions over the whole sequence.
    func extendingWithRecentInputs(_ input: Tensor) -> Tensor {
        guard let recent = recentInputs else { return input }
        let extended = concatenate([recent, input], alongAxis: 1), total = extended.shape[1]
        recentInputs = extended.sliced(alongAxis: 1, (total - recent.shape[1])..<total)
        return extended
    }
}

/// Incremental decoding for ``LogSparseAttention``.
extension LogSparseAttention {
    /// An empty ``LogSparseCache``.
    public func makeCache(batch: Int) throws -> any AttentionCache {
        LogSparseCache(batch: batch, heads: heads, modelDimensions: modelDimensions, queryKeyKernel: queryKeyKernel)
    }

    /// The next positions of `input`: queries and keys from the convolutions over the recent
    /// inputs and the new ones, each query attending to the pattern's keys for its position.
    func attendIncrementally(_ input: Tensor, cache: LogSparseCache) -> AttentionOutput {
        let n = input.shape[1]
        let extended = cache.extendingWithRecentInputs(input), total = extended.shape[1]
        let newRows = (total - n)..<total
        let q = query(extended).sliced(alongAxis: 1, newRows).splittingHeads(heads)
        let k = key(extended).sliced(alongAxis: 1, newRows).splittingHeads(heads)
        cache.keysAndValues.append(keys: k, values: value(input).splittingHeads(heads))
        let attended = cache.keysAndValues.attention(queries: q, scale: 1 / Float(modelDimensions / heads).squareRoot()) { [pattern] _, position in
            pattern.keys(forQuery: position)
        }
        return AttentionOutput(output(attended.mergingHeads()))
    }
}
