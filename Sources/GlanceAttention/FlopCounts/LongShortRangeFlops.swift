import GlanceNN

extension LongShortRangeAttention: AttentionFlopCounting {
    /// The attention branch's count at its own width, plus the convolution branch's
    /// (``ConvolutionBranch/flops(rows:)``) over every query position.
    public func flops(for workload: AttentionWorkload) -> LayerFlops {
        let branch = (attention as? AttentionFlopCounting)?.flops(for: workload) ?? LayerFlops(forward: 0, forwardAndBackward: 0)
        return branch + convolutionBranch.flops(rows: workload.batch * workload.length)
    }
}

extension ConvolutionBranch {
    /// `rows` positions through the input projection (C → 2C with the GLU, else C → C), the
    /// convolution (2·C·K per position, plus the dynamic kernels' C → H·K projection) and the
    /// output projection (C → C). Every part is a product whose backward takes two more of
    /// its size (to the input and to the weight or kernels).
    public func flops(rows: Int) -> LayerFlops {
        let c = Double(channels), positions = Double(rows), taps = Double(convolution.kernelSize)
        var forward = 2 * positions * c * Double(input.outputCount) + 2 * positions * c * taps + 2 * positions * c * c
        if let dynamic = convolution as? DynamicConvolution { forward += 2 * positions * c * Double(dynamic.kernelProjection.outputCount) }
        return LayerFlops(forwardOnly: forward)
    }
}

extension FeedForward {
    /// `rows` positions through the two projections (d → hidden → d); the backward takes two
    /// products more of each.
    public func flops(rows: Int) -> LayerFlops {
        let positions = Double(rows)
        return LayerFlops(forwardOnly: 2 * positions * Double(input.inputCount * input.outputCount + output.inputCount * output.outputCount))
    }
}
