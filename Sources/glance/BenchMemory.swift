import ArgumentParser
import GlanceAttention
import GlanceModels

extension Bench {
    /// A generous estimate of what timing one configuration at `length` needs: the layer's
    /// activations and their gradients, the weights, or the matrices of `--gemm`; and the
    /// relative-position score term [B, H, N, N + M] of Transformer-XL with `same_length`, the
    /// one case that still stores it (exact attention, the in-kernel relative position term of
    /// Transformer-XL and the encoders keep nothing quadratic).
    func memoryEstimate(length: Int) -> MemoryEstimate {
        var estimate = MemoryEstimate()
        if gemm {
            estimate.add("three --gemm matrices", [("--size", size), ("--size", size), ("three matrices", 3)], bytesPerElement: 4)
            return estimate
        }
        let depth = modelDepth ?? 1, dModel = [("--heads", heads), ("--head-dim", headDim)]
        estimate.add("activations and their gradients", [("--batch", batch), ("--length", length + memory)] + dModel
                        + [("--model-depth", depth), ("copies", 24)], bytesPerElement: 4)
        estimate.add("weights and their gradients", dModel + dModel + [("--model-depth", depth), ("copies", 16)], bytesPerElement: 4)
        if model != nil {
            estimate.add("convolution kernels", [("--kernel-size", kernelSize)] + dModel + [("copies", 16)], bytesPerElement: 4)
        }
        if model == nil, let options = try? attentionConfiguration().options as? TransformerXLOptions, options.sameLength {
            estimate.add("relative-position scores", [("--batch", batch), ("--heads", heads), ("--length", length), ("--length", length + memory),
                                              ("--model-depth", depth), ("copies", 4)], bytesPerElement: 4)
        }
        return estimate
    }

    /// Refuses sizes whose estimate exceeds this machine's memory, naming the flag that drives it.
    func requireMemory(lengths: [Int]) throws {
        for length in gemm ? [0] : lengths {
            do { try memoryEstimate(length: length).require() } catch let error as ConfigurationValueError {
                throw ValidationError("\(error.field) \(error.reason.replacingOccurrences(of: "the model", with: "the benchmark"))")
            }
        }
    }
}
