extension Longformer: AttentionFlopCounting {
    /// Projections (and the global ones: queries of the global tokens, keys and values of all),
    /// then scores and weighted values for each query's window of 2w + 1 keys (w + 1 causal;
    /// the edges counted as full) plus the global rows and columns: two products of 2·width
    /// per query–key pair.
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        let n = workload.length, w = oneSidedWindow, g = workload.globalTokens
        let keysPerQuery = workload.causal ? Swift.min(w + 1, n) : Swift.min(2 * w + 1, n)
        var pairs = Double(n * keysPerQuery)
        if g > 0 { pairs += Double(2 * g * n) }
        let product = 2 * Double(workload.batch) * pairs * Double(modelDimensions)
        var projections = projectionFlops(workload, width: modelDimensions)
        if g > 0 && hasGlobalProjections {
            projections = projections + LayerFlops(forwardOnly: 2 * Double(modelDimensions * modelDimensions) * Double(workload.batch * (g + 2 * n)))
        }
        return projections + LayerFlops(forwardOnly: 2 * product)
    }
}
