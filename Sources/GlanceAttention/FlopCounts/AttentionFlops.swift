/// The sizes of one call of an attention layer, for its analytic floating-point operation count.
public struct AttentionWorkload: Sendable, Equatable {
    public var batch: Int
    /// Queries per sequence.
    public var length: Int
    /// Positions of earlier segments every query also sees (keys and values only).
    public var memory: Int
    public var causal: Bool
    /// Leading positions that attend to, and are attended by, every position.
    public var globalTokens: Int

    public init(batch: Int, length: Int, memory: Int = 0, causal: Bool = false, globalTokens: Int = 0) {
        self.batch = batch
        self.length = length
        self.memory = memory
        self.causal = causal
        self.globalTokens = globalTokens
    }
}

/// Floating-point operations of one layer call (a multiply-add counts two), counting the
/// matrix products only: elementwise work, softmax and normalizers are left out.
public struct LayerFlops: Sendable, Equatable {
    /// The forward pass.
    public var forward: Double
    /// The forward pass and the backward pass to the input and every weight, recomputation included.
    public var forwardAndBackward: Double

    public init(forward: Double, forwardAndBackward: Double) {
        self.forward = forward
        self.forwardAndBackward = forwardAndBackward
    }

    /// A forward count whose backward costs twice as much (two products per product).
    public init(forwardOnly forward: Double) { self.init(forward: forward, forwardAndBackward: 3 * forward) }

    public static func + (a: LayerFlops, b: LayerFlops) -> LayerFlops {
        LayerFlops(forward: a.forward + b.forward, forwardAndBackward: a.forwardAndBackward + b.forwardAndBackward)
    }
}

/// A mechanism that knows how much arithmetic one of its calls takes, so that a benchmark
/// can report the rate it reaches against the machine's matrix-product rate.
public protocol AttentionFlopCounting {
    func flops(for workload: AttentionWorkload) -> LayerFlops
}

/// The query, key, value and output projections of width `width`: four products of
/// 2·rows·width² each (key and value rows include the memory).
public func projectionFlops(_ workload: AttentionWorkload, width: Int) -> LayerFlops {
    let queries = Double(workload.batch * workload.length), keys = Double(workload.batch * (workload.length + workload.memory))
    return LayerFlops(forwardOnly: 2 * Double(width * width) * (2 * queries + 2 * keys))
}
