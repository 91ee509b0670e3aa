extension FullAttention: AttentionFlopCounting {
    /// Projections, and per query–key pair scores and weighted values (two products of
    /// 2·width each); the backward recomputes the scores block by block (as FlashAttention-2
    /// does) and takes four products more: five in all. Causal attention counts the pairs at
    /// or below the diagonal only.
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        let n = Double(workload.length), memory = Double(workload.memory)
        let pairs = Double(workload.batch) * (workload.causal ? n * (n + 1) / 2 + n * memory : n * (n + memory))
        let product = 2 * pairs * Double(modelDimensions)
        return projectionFlops(workload, width: modelDimensions) + LayerFlops(forward: 2 * product, forwardAndBackward: 7 * product)
    }
}
