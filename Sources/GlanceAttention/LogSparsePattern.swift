/// The log-sparse attention pattern of Li et al. 2019 ("Enhancing the Locality and Breaking
/// the Memory Bottleneck of Transformer on Time Series Forecasting"): always causal, each
/// query attends to itself, densely to the `localWindow` positions before it, and beyond them
/// to positions at exponentially growing distances: query i sees key i − δ for
/// δ ∈ {0, 1, …, w} ∪ {w + 1, w + 2, w + 4, w + 8, …} (w = `localWindow`).
/// With w = 0 this is the paper's pure LogSparse cell set {i, i − 1, i − 2, i − 4, …}.
///
/// Restarts (`subsequenceLength` L), as in the authors' code: the same window and steps are
/// repeated from the anchors i − L, i − 2L, … (while ≥ 0), and each anchor's exponential
/// steps stop at distance L from it. The authors' `row_mask(index, sub_len, win_len)` is this
/// pattern with w = ⌈log₂ L⌉ − 1, except two quirks not reproduced: rows of the first
/// 2·⌈log₂ L⌉·(win_len / L) positions are fully causal, and an anchor closer than
/// ⌈log₂ L⌉ − 1 to the start omits itself.
///
/// Without restarts a query sees O(w + log n) keys; with them O((n / L)·(w + log L)).
public struct LogSparsePattern: Sendable, Hashable {
    /// Earlier positions each query sees densely before the exponential steps (0: pure LogSparse).
    public let localWindow: Int
    /// Restart length L (nil: no restarts, one log-sparse pattern over the whole sequence).
    public let subsequenceLength: Int?

    /// Throws an ``AttentionConfigurationError`` naming `logsparse_window` or
    /// `logsparse_subsequence` for a negative window or a restart length below 1.
    public init(localWindow: Int = 0, subsequenceLength: Int? = nil) throws {
        guard localWindow >= 0 else {
            throw AttentionConfigurationError(field: "logsparse_window", reason: "must be at least 0, got \(localWindow)")
        }
        if let subsequenceLength, subsequenceLength < 1 {
            throw AttentionConfigurationError(field: "logsparse_subsequence", reason: "must be at least 1, got \(subsequenceLength)")
        }
        self.localWindow = localWindow
        self.subsequenceLength = subsequenceLength
    }

    /// The keys query `query` attends to, ascending, without repeats.
    public func keys(forQuery query: Int) -> [Int] {
        precondition(query >= 0, "query position must be non-negative, got \(query)")
        var keys: [Int] = []
        var anchor = query
        while anchor >= 0 {
            keys.append(contentsOf: stride(from: anchor, through: Swift.max(0, anchor - localWindow), by: -1))
            var step = 1
            while anchor - localWindow - step >= 0 && (subsequenceLength.map { localWindow + step <= $0 } ?? true) {
                keys.append(anchor - localWindow - step)
                step *= 2
            }
            guard let subsequenceLength else { break }
            anchor -= subsequenceLength
        }
        return subsequenceLength == nil ? keys.reversed() : Array(Set(keys)).sorted()
    }

    /// The index lists of this pattern for sequences of `length` positions.
    public func index(length: Int) -> SparseAttentionIndex {
        SparseAttentionIndex(length: length) { keys(forQuery: $0) }
    }
}
