import GlanceCore

/// Activation functions for feed-forward layers.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case gelu, relu, silu
    /// Gated linear unit: the first projection is twice as wide; a ⊙ σ(b).
    case glu

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: GlanceCore.gelu(x)
        case .relu: GlanceCore.relu(x)
        case .silu: GlanceCore.silu(x)
        case .glu:
            gatedLinearUnit(x)
        }
    }
}

/// Position-wise feed-forward block: Linear → activation → dropout → Linear.
public final class FeedForward: Module, UnaryLayer {
    public let input: Linear
    public let output: Linear
    public let activation: Activation
    public let dropout: Dropout?
    /// When set, positions go through `chunkLength` at a time along axis 1, so that only one
    /// chunk's hidden layer is alive at once (Reformer's chunked feed-forward, see
    /// ``chunkedApply(_:chunkLength:alongAxis:parameters:_:)``). Not with dropout, whose mask the
    /// recomputing backward could not replay.
    public let chunkLength: Int?

    /// `outputStandardDeviation` lets deep models scale the residual projection's init.
    public init(dimensions: Int, hiddenDimensions: Int, activation: Activation = .gelu,
                dropout: Dropout? = nil, standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil,
                chunkLength: Int? = nil, generator: inout RandomGenerator) {
        precondition(chunkLength.map { $0 >= 1 } ?? true, "chunkLength must be at least 1, got \(chunkLength!)")
        precondition(chunkLength == nil || dropout == nil, "a chunked feed-forward cannot have inner dropout")
        let width = activation == .glu ? 2 * hiddenDimensions : hiddenDimensions
        input = Linear(dimensions, width, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(hiddenDimensions, dimensions, standardDeviation: outputStandardDeviation ?? standardDeviation, generator: &generator)
        self.activation = activation
        self.dropout = dropout
        self.chunkLength = chunkLength
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let chunkLength, x.rank >= 2 else { return positionwise(x) }
        return chunkedApply(x, chunkLength: chunkLength, alongAxis: 1, parameters: namedParameters().map(\.parameter.value), positionwise)
    }

    private func positionwise(_ x: Tensor) -> Tensor {
        var hidden = activation(input(x))
        if let dropout { hidden = dropout(hidden) }
        return output(hidden)
    }
}
