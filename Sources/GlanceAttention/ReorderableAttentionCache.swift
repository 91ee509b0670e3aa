/// An attention cache whose sequences can be selected and repeated between decoding steps,
/// as beam search does when it keeps its best hypotheses.
public protocol ReorderableAttentionCache: AttentionCache {
    /// Whether ``reorder(_:)`` can run (a cache that holds other caches can only when they all can).
    var canReorder: Bool { get }
    /// Keeps the sequences `rows` (indices into the current ones, repeats allowed), in that order.
    func reorder(_ rows: [Int])
}

extension ReorderableAttentionCache {
    public var canReorder: Bool { true }
}

extension AttentionCache {
    /// Whether beam search can reorder this cache's sequences.
    public var supportsReordering: Bool { (self as? any ReorderableAttentionCache)?.canReorder ?? false }
}
