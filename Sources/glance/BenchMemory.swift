import ArgumentParser
import GlanceModels

extension Bench {
    /// A generous estimate of what timing one configuration at `length` needs: the layer's
    /// activations and their gradients, the relative-position score term (Transformer-XL, the
    /// encoders' relative positions, the model blocks: [B, H, N, N + M]; exact attention itself
    /// keeps nothing quadratic), the weights, or the matrices of `--gemm`.
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
        if mechanism == "transformer_xl" || mechanism == "relative_position" || model != nil {
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
