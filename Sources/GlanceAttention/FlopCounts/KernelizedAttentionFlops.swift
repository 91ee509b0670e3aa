extension Performer: AttentionFlopCounting {
    /// Projections, the random features of queries and keys (two products of 2·n·m·width)
    /// and the linear attention φ(Q)(φ(K)ᵀV) (two more).
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        let product = 2 * Double(workload.batch * workload.length * features * modelDimensions)
        return projectionFlops(workload, width: modelDimensions) + LayerFlops(forwardOnly: 4 * product)
    }
}
