import GlanceCore
import GlanceNN

/// LogSparse attention with convolutional self-attention (Li et al. 2019): queries and keys
/// come from a causal 1-D convolution of kernel size K over the sequence (K = 1 is ordinary
/// attention), values from a linear map, and each query attends only to the keys of a
/// ``LogSparsePattern`` (itself, a local window, exponentially spaced earlier positions),
/// computed sparsely in O(n log n) time and memory by ``sparseAttention(queries:keys:values:heads:index:keyPadding:scale:)``
/// on the projections' own layout (no copies to split or merge heads).
///
/// Always causal, whatever `mask.causal` says: the pattern and the convolutions look back
/// only. Scores are scaled by 1/√(d_model / heads) (the authors' `scale=True`), and heads split d_model as in
/// the rest of Glance (the authors' code gives every head the full width). Nothing here
/// assumes tokens: the layer serves language models and time-series forecasters alike.
public final class LogSparseAttention: Module, AttentionMechanism {
    /// Causal convolution producing the queries, weight [d, d, K].
    public let query: CausalConvolution
    /// Causal convolution producing the keys, weight [d, d, K].
    public let key: CausalConvolution
    public let value: Linear
    public let output: Linear
    public let heads: Int
    public let pattern: LogSparsePattern
    /// Index lists of the last sequence length seen, rebuilt when the length changes.
    private var _index: SparseAttentionIndex?

    /// Throws an ``AttentionConfigurationError`` naming `qk_kernel` for a kernel size below 1,
    /// `heads` or `d_model` for sizes that do not split into heads.
    public init(modelDimensions: Int, heads: Int, queryKeyKernel: Int = 1, pattern: LogSparsePattern,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        guard queryKeyKernel >= 1 else {
            throw AttentionConfigurationError(field: "qk_kernel", reason: "must be at least 1, got \(queryKeyKernel)")
        }
        try checkHeadSplit(modelDimensions: modelDimensions, heads: heads)
        query = CausalConvolution(modelDimensions, modelDimensions, kernelSize: queryKeyKernel,
                                  standardDeviation: standardDeviation, generator: &generator)
        key = CausalConvolution(modelDimensions, modelDimensions, kernelSize: queryKeyKernel,
                                standardDeviation: standardDeviation, generator: &generator)
        value = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(modelDimensions, modelDimensions, standardDeviation: outputStandardDeviation ?? standardDeviation, generator: &generator)
        self.heads = heads
        self.pattern = pattern
        super.init()
    }

    public var modelDimensions: Int { value.inputCount }
    public static let mechanismName = "logsparse"
    public var isAlwaysCausal: Bool { true }
    /// Causal only: the pattern and the convolutions look back; decodes incrementally (``LogSparseCache``).
    public var capabilities: AttentionCapabilities { [.causal, .incremental] }
    /// Kernel size K of the query and key convolutions.
    public var queryKeyKernel: Int { query.kernelSize }

    /// The pattern's index lists for `length` positions (cached for the last length).
    public func index(length: Int) -> SparseAttentionIndex {
        if let cached = _index, cached.length == length { return cached }
        let built = pattern.index(length: length)
        _index = built
        return built
    }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "LogSparseAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        if let cache = context.incrementalCache(as: LogSparseCache.self, mechanism: Self.mechanismName) {
            return attendIncrementally(input, cache: cache)
        }
        let attended = sparseAttention(queries: query(input), keys: key(input), values: value(input), heads: heads,
                                       index: index(length: input.shape[1]), keyPadding: context.mask.keyPadding)
        return AttentionOutput(output(attended))
    }
}

/// LogSparse's options: `{"type": "logsparse", "qk_kernel": 3, "window": 4, "subsequence": 64}`.
public struct LogSparseOptions: AttentionOptions {
    public static let mechanism = LogSparseAttention.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("qk_kernel", "integer", default: "1", "Kernel size K of the causal query and key convolutions (1: plain projections)."),
        AttentionOptionDocumentation("window", "integer", default: "0", "Earlier positions w each query sees densely before the exponential steps (w + 1, w + 2, w + 4, …)."),
        AttentionOptionDocumentation("subsequence", "integer", default: "no restarts", "Restart (sub-sequence) length L: window and steps repeat from positions i − L, i − 2L, …, each reaching at most L back."),
    ]
    public static let formerNames = ["qk_kernel": "qk_kernel", "logsparse_window": "window", "logsparse_subsequence": "subsequence"]

    public var queryKeyKernel: Int
    public var window: Int
    /// Restart length (nil: no restarts).
    public var subsequence: Int?

    public init() { self.init(queryKeyKernel: 1) }

    public init(queryKeyKernel: Int = 1, window: Int = 0, subsequence: Int? = nil) {
        self.queryKeyKernel = queryKeyKernel
        self.window = window
        self.subsequence = subsequence
    }

    enum CodingKeys: String, CodingKey { case queryKeyKernel = "qk_kernel", window, subsequence }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(queryKeyKernel: try c.option(.queryKeyKernel, default: 1), window: try c.option(.window, default: 0),
                  subsequence: try c.decodeIfPresent(Int.self, forKey: .subsequence))
    }

    public func validate(for shape: AttentionShape) throws {
        try requireOption(queryKeyKernel, atLeast: 1, "qk_kernel")
        try requireOption(window, atLeast: 0, "window")
        try requireOption(subsequence, atLeast: 1, "subsequence")
    }

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try LogSparseAttention(modelDimensions: shape.modelDimensions, heads: shape.heads, queryKeyKernel: queryKeyKernel,
                               pattern: LogSparsePattern(localWindow: window, subsequenceLength: subsequence),
                               standardDeviation: shape.standardDeviation, outputStandardDeviation: shape.outputStandardDeviation,
                               generator: &generator)
    }
}
