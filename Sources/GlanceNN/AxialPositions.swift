import GlanceCore

/// Axial position embeddings (Reformer; Hugging Face's `AxialPositionEmbeddings`): positions
/// 0 ..< Π shape are laid out row-major on a grid of `shape`, and position p's embedding is
/// the concatenation of one learned vector per grid axis (widths `dimensions`) for p's
/// coordinate on that axis. Σ shapeᵢ·dᵢ parameters instead of Π shapeᵢ·Σ dᵢ.
///
/// Weight i has Hugging Face's shape: `shape[i]` on axis i, 1 on the other grid axes, then
/// `dimensions[i]` (keys `weights.0`, `weights.1`, …). Hugging Face's dropout over the
/// grid in training is not applied here.
public final class AxialPositions: Module {
    public let weights: [Parameter]
    /// Grid of positions (`axial_pos_shape`).
    public let shape: [Int]
    /// Width of each axis' vectors (`axial_pos_embds_dim`); they sum to the embedding width.
    public let dimensions: [Int]

    /// Weights from N(0, `standardDeviation`²) (Hugging Face's `axial_norm_std`, default 1).
    public init(shape: [Int], dimensions: [Int], standardDeviation: Float = 1, generator: inout RandomGenerator) {
        precondition(!shape.isEmpty && shape.count == dimensions.count && shape.allSatisfy { $0 >= 1 } && dimensions.allSatisfy { $0 >= 1 },
                     "axial positions need one positive size and width per axis, got shape \(shape) and widths \(dimensions)")
        weights = dimensions.indices.map { axis in
            var weightShape = [Int](repeating: 1, count: shape.count) + [dimensions[axis]]
            weightShape[axis] = shape[axis]
            return Parameter(.randomNormal(shape: weightShape, standardDeviation: standardDeviation, generator: &generator))
        }
        self.shape = shape
        self.dimensions = dimensions
        super.init()
    }

    /// Positions the grid holds.
    public var maximumLength: Int { shape.reduce(1, *) }

    /// Embeddings of positions 0..<count, shape [count, Σ dimensions].
    public func callAsFunction(count: Int) -> Tensor {
        precondition(count <= maximumLength, "sequence of \(count) exceeds the \(maximumLength) axial positions of \(shape)")
        let grid = zip(weights, dimensions).map { weight, width in weight.value.broadcast(to: shape + [width]) }
        let table = concatenate(grid, alongAxis: shape.count).reshaped(to: [maximumLength, dimensions.reduce(0, +)])
        return table.sliced(alongAxis: 0, 0..<count)
    }
}
