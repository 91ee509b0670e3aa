import GlanceAttention

/// The sizes of a language model checked before it is built: each size field against a fixed
/// limit, then the memory of its parameters and of one training step against the machine's.
extension LanguageModelConfiguration {
    /// The largest value each size field accepts on any machine (JSON key under `model`).
    public static let sizeLimits: [(field: String, limit: Int)] = [
        ("vocab_size", 1 << 24), ("context", 1 << 24), ("layers", 1 << 16), ("d_model", 1 << 20), ("heads", 1 << 16),
        ("ffn_multiplier", 1 << 16), ("chunk_size_feed_forward", 1 << 24),
    ]
    /// The largest value of an attention option that is a size (features, window, buckets, …).
    public static let attentionOptionLimit = 1 << 24
    /// Integer attention options that are not sizes.
    static let attentionOptionsThatAreNotSizes: Set<String> = ["hash_seed", "redraw_every"]
    /// Size options whose memory grows with them only up to the context (a window, a projected
    /// length, a chunk); the others (features, hashes, kernel width, …) widen every position.
    static let attentionOptionsBoundedByContext: Set<String> = ["window", "subsequence", "chunk_length", "k", "buckets", "dilation"]

    /// Throws a ``ConfigurationValueError`` naming the field when a size exceeds its limit in
    /// ``sizeLimits`` or the parameters, their gradients and AdamW moments exceed `memory`.
    public func checkSizes(memory: Int = MemoryEstimate.physicalMemory) throws {
        let values = [vocabularySize, context, layers, modelDimensions, heads, feedForwardMultiplier, feedForwardChunk ?? 1]
        for ((field, limit), value) in zip(Self.sizeLimits, values) where value > limit {
            throw ConfigurationValueError(field: "model.\(field)", reason: "must be at most \(limit), got \(value)")
        }
        for (option, value) in attentionSizeOptions() where value > Self.attentionOptionLimit {
            throw ConfigurationValueError(field: option, reason: "must be at most \(Self.attentionOptionLimit), got \(value)")
        }
        try parameterMemory().require(fitting: memory)
    }

    /// Four copies (value, gradient, two AdamW moments) of 4 bytes per parameter.
    public func parameterMemory() -> MemoryEstimate {
        let bytes = 4 * 4
        var estimate = MemoryEstimate()
        estimate.add("embedding and output layer", [("model.vocab_size", vocabularySize), ("model.d_model", modelDimensions)], bytesPerElement: 2 * bytes)
        estimate.add("positions", [("model.context", context), ("model.d_model", modelDimensions)], bytesPerElement: bytes)
        estimate.add("attention projections", [("model.layers", layers), ("model.d_model", modelDimensions), ("model.d_model", modelDimensions)],
                     bytesPerElement: 4 * bytes)
        estimate.add("feed-forward layers", [("model.layers", layers), ("model.d_model", modelDimensions), ("model.d_model", modelDimensions),
                                             ("model.ffn_multiplier", feedForwardMultiplier)], bytesPerElement: 2 * bytes)
        return estimate
    }

    /// ``parameterMemory()`` and the activations one training step keeps for the backward
    /// pass of a micro-batch of `microBatch` windows (`field` names the batch's field).
    public func trainingMemory(microBatch: Int, field: String) -> MemoryEstimate {
        var estimate = parameterMemory()
        let rows: [(field: String, value: Int)] = [(field, microBatch), ("model.context", context), ("model.layers", layers)]
        estimate.add("layer activations", rows + [("model.d_model", modelDimensions)], bytesPerElement: 40)
        estimate.add("feed-forward activations", rows + [("model.d_model", modelDimensions), ("model.ffn_multiplier", feedForwardMultiplier)],
                     bytesPerElement: 8)
        estimate.add("output logits", [(field, microBatch), ("model.context", context), ("model.vocab_size", vocabularySize)], bytesPerElement: 12)
        let scores = rows + [("model.heads", heads)]
        if attention.type == FullAttentionOptions.mechanism {
            estimate.add("attention scores", scores + [("model.context", context)], bytesPerElement: 8)
        }
        for (option, value) in attentionSizeOptions() {
            let name = String(option.split(separator: ".").last!)
            let width = Self.attentionOptionsBoundedByContext.contains(name) ? Swift.min(value, context) : value
            estimate.add("attention's \(name)", scores + [(option, Swift.max(width, 0))], bytesPerElement: 8)
        }
        return estimate
    }

    /// The attention options that are sizes, by their field (`model.attention.features`), with
    /// the largest value of an option given as a list.
    func attentionSizeOptions() -> [(field: String, value: Int)] {
        func integers(_ value: Any) -> [Int] {
            if let list = value as? [Any] { return list.flatMap(integers) }
            if value is Bool { return [] }
            return (value as? Int).map { [$0] } ?? []
        }
        return attention.optionsObject.sorted { $0.key < $1.key }.compactMap { key, value in
            guard !Self.attentionOptionsThatAreNotSizes.contains(key), let largest = integers(value).max() else { return nil }
            return ("model.attention.\(key)", largest)
        }
    }
}
