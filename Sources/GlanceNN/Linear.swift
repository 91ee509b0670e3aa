import GlanceCore

/// y = x · Wᵀ + b, with the weight stored as [outputs, inputs] (PyTorch's layout, so that
/// foreign checkpoints load unchanged).
public final class Linear: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter?

    /// Weights from N(0, `standardDeviation`²) when given, otherwise PyTorch's default
    /// uniform(−1/√inputs, 1/√inputs); biases start at zero.
    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, standardDeviation: Float? = nil,
                generator: inout RandomGenerator) {
        precondition(inputs > 0 && outputs > 0, "Linear needs positive sizes, got \(inputs) → \(outputs)")
        if let standardDeviation {
            weight = Parameter(.randomNormal(shape: [outputs, inputs], standardDeviation: standardDeviation, generator: &generator))
        } else {
            let bound = 1 / Float(inputs).squareRoot()
            weight = Parameter(.randomUniform(shape: [outputs, inputs], lower: -bound, upper: bound, generator: &generator))
        }
        self.bias = bias ? Parameter(.zeros([outputs])) : nil
        super.init()
    }

    /// A layer whose weight ([outputs, inputs]) is `weight` itself, shared by identity with
    /// the module that owns it: tied embeddings pass an ``Embedding``'s [count, dimensions]
    /// table, which maps `dimensions` features back to `count` scores. The bias, if any, is
    /// this layer's own and starts at zero.
    public init(sharing weight: Parameter, bias: Bool = true) {
        precondition(weight.value.rank == 2, "a Linear weight is [outputs, inputs], got \(weight.shape)")
        self.weight = weight
        self.bias = bias ? Parameter(.zeros([weight.shape[0]])) : nil
        super.init()
    }

    /// A layer holding the given values (a checkpoint's), nothing drawn: `weight` is
    /// [outputs, inputs], `bias` (if any) [outputs].
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "a Linear weight is [outputs, inputs], got \(weight.shape)")
        precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true, "a Linear bias is [\(weight.shape[0])], got \(bias!.shape)")
        self.weight = Parameter(weight)
        self.bias = bias.map { Parameter($0) }
        super.init()
    }

    public var inputCount: Int { weight.shape[1] }
    public var outputCount: Int { weight.shape[0] }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.shape.last == inputCount, "Linear expects last axis \(inputCount), got input \(input.shape)")
        return affine(input, weight: weight.value, bias: bias?.value)
    }
}

/// A lookup table of `count` vectors of width `dimensions`.
public final class Embedding: Module {
    public let weight: Parameter

    public init(count: Int, dimensions: Int, standardDeviation: Float = 1, generator: inout RandomGenerator) {
        precondition(count > 0 && dimensions > 0, "Embedding needs positive sizes, got \(count) × \(dimensions)")
        weight = Parameter(.randomNormal(shape: [count, dimensions], standardDeviation: standardDeviation, generator: &generator))
        super.init()
    }

    /// A table holding the given [count, dimensions] values (a checkpoint's), nothing drawn.
    public init(weight: Tensor) {
        precondition(weight.rank == 2, "an Embedding weight is [count, dimensions], got \(weight.shape)")
        self.weight = Parameter(weight)
        super.init()
    }

    /// Vectors for `ids` (shape `ids.shape + [dimensions]`).
    public func callAsFunction(_ ids: IndexTensor) -> Tensor { weight.value.embeddingLookup(ids) }
}
