extension Linformer: AttentionFlopCounting {
    /// Projections, the keys and values projected along the sequence to k rows (two products
    /// of 2·n·k·width) and attention over the k rows (two more).
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        let product = 2 * Double(workload.batch * workload.length * projectedLength * modelDimensions)
        return projectionFlops(workload, width: modelDimensions) + LayerFlops(forwardOnly: 4 * product)
    }
}
