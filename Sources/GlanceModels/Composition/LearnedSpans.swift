import GlanceAttention

extension BlockStack {
    /// Per layer, each head's learned attention span in positions (``GlanceAttention/AdaptiveSpanAttention/spans``);
    /// nil for a layer whose mechanism learns no span.
    public var learnedSpans: [[Float]?] { layers.map { ($0.attention as? AdaptiveSpanAttention)?.spans } }

    /// The mean and the largest learned span of each layer that learns spans, as metrics
    /// `span_mean_<layer>` and `span_max_<layer>` (none when no layer does).
    public var spanMetrics: [(name: String, value: Float)] {
        learnedSpans.enumerated().flatMap { layer, spans -> [(name: String, value: Float)] in
            guard let spans, !spans.isEmpty else { return [] }
            return [("span_mean_\(layer)", spans.reduce(0, +) / Float(spans.count)), ("span_max_\(layer)", spans.max()!)]
        }
    }
}
