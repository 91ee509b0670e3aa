import GlanceCore

/// The convolution shared by ``LightweightConvolution`` and ``DynamicConvolution`` (Wu et
/// al. 2019), on [batch, time, channels]: channel c belongs to head h = c div (C/H), and
///
///     out[b, t, c] = Σ_k w[h, k] · x[b, t + k − paddingLeft, c]
///
/// over the k with 0 ≤ t + k − paddingLeft < length(x). `kernels` is [H, K] (one kernel per
/// head for every position: lightweight) or [batch, outputLength, H, K] (one per output
/// position: dynamic). `outputLength` (default: the input's length) lets an incremental
/// step read K − 1 cached frames before its new ones. Differentiable in the input and the
/// kernels, with a hand-written backward; threads split the batch × time positions and
/// each head's channels run 16 lanes at a time, summed over the taps in registers.
public func headwiseConvolution(_ input: Tensor, kernels: Tensor, paddingLeft: Int, outputLength: Int? = nil) -> Tensor {
    let plan = HeadwiseConvolutionPlan(input: input.shape, kernels: kernels.shape, paddingLeft: paddingLeft, outputLength: outputLength)
    let x = input.detached(), w = kernels.detached()
    let output = Tensor(shape: [plan.batch, plan.outputLength, plan.channels]) { out in
        x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                plan.forward(SendablePointer(xb.baseAddress!), SendablePointer(wb.baseAddress!), SendablePointer(out.baseAddress!))
            }
        }
    }
    return output.recorded(from: [input, kernels]) { gradient in
        gradient.withUnsafeBufferPointer { gb in
            let g = SendablePointer(gb.baseAddress!)
            let inputGradient = input.requiresGradient ? Tensor(shape: input.shape) { dx in
                w.withUnsafeBufferPointer { wb in plan.inputGradient(g, SendablePointer(wb.baseAddress!), SendablePointer(dx.baseAddress!)) }
            } : nil
            let kernelGradient = kernels.requiresGradient ? Tensor(shape: kernels.shape) { dw in
                x.withUnsafeBufferPointer { xb in plan.kernelGradient(g, SendablePointer(xb.baseAddress!), SendablePointer(dw.baseAddress!)) }
            } : nil
            return [inputGradient, kernelGradient]
        }
    }
}

/// `x` with the frames that `keyPadding` marks as padding (`false`) set to zero; `x` itself
/// when there is no padding.
public func zeroingPaddedFrames(_ x: Tensor, keyPadding: [[Bool]]?) -> Tensor {
    guard let keyPadding else { return x }
    precondition(x.rank == 3 && keyPadding.count == x.shape[0] && keyPadding.allSatisfy { $0.count == x.shape[1] },
                 "key padding of \(keyPadding.count) × \(keyPadding.first?.count ?? 0) for frames \(x.shape)")
    guard keyPadding.contains(where: { $0.contains(false) }) else { return x }
    let keep = Tensor(keyPadding.flatMap { $0.map { $0 ? Float(1) : 0 } }, shape: [x.shape[0], x.shape[1], 1])
    return x * keep
}

/// Sizes of one ``headwiseConvolution(_:kernels:paddingLeft:outputLength:)`` call and its loops.
private struct HeadwiseConvolutionPlan: Sendable {
    let batch, inputLength, outputLength, channels, heads, kernelSize, paddingLeft: Int
    /// Kernel floats between consecutive output positions: 0 when every position shares them.
    let kernelStride: Int
    var headChannels: Int { channels / heads }
    var kernelCount: Int { heads * kernelSize }

    init(input: [Int], kernels: [Int], paddingLeft: Int, outputLength: Int?) {
        precondition(input.count == 3, "headwiseConvolution expects input [batch, time, channels], got \(input)")
        (batch, inputLength, channels) = (input[0], input[1], input[2])
        self.outputLength = outputLength ?? inputLength
        let perPosition = kernels.count == 4 && kernels[0] == batch && kernels[1] == self.outputLength
        precondition(kernels.count == 2 || perPosition,
                     "headwiseConvolution kernels must be [heads, K] or [\(batch), \(self.outputLength), heads, K], got \(kernels) for input \(input)")
        (heads, kernelSize) = (kernels[kernels.count - 2], kernels[kernels.count - 1])
        precondition(heads >= 1 && kernelSize >= 1 && channels % heads == 0,
                     "headwiseConvolution: \(heads) heads do not split \(channels) channels (kernels \(kernels))")
        precondition(paddingLeft >= 0 && self.outputLength >= 0, "headwiseConvolution: padding \(paddingLeft), output length \(self.outputLength)")
        self.paddingLeft = paddingLeft
        kernelStride = kernels.count == 2 ? 0 : heads * kernelSize
    }

    /// Taps k of output position t that read inside the input.
    func taps(at t: Int) -> Range<Int> {
        Swift.max(0, paddingLeft - t)..<Swift.max(0, Swift.min(kernelSize, inputLength + paddingLeft - t))
    }

    /// Positions per worker chunk: about 16k multiply-adds.
    var grain: Int { Swift.max(1, (1 << 14) / Swift.max(1, channels * kernelSize)) }

    func forward(_ x: SendablePointer<Float>, _ w: SendablePointer<Float>, _ out: SendablePointer<Float>) {
        parallelTapChunks(batch * outputLength) { p, sources, weights in
            let (b, t) = p.quotientAndRemainder(dividingBy: outputLength)
            let kernel = w.base + p * kernelStride, taps = taps(at: t)
            for (j, k) in taps.enumerated() {
                sources[j] = UnsafePointer(x.base + (b * inputLength + t + k - paddingLeft) * channels)
                weights[j] = UnsafePointer(kernel + k)
            }
            sumTaps(taps.count, sources, weights, into: out.base + p * channels)
        }
    }

    /// dx[b, s, c] = Σ_k w[t, h, k] · dout[b, t, c] with t = s − k + paddingLeft.
    func inputGradient(_ g: SendablePointer<Float>, _ w: SendablePointer<Float>, _ dx: SendablePointer<Float>) {
        parallelTapChunks(batch * inputLength) { p, sources, weights in
            let (b, s) = p.quotientAndRemainder(dividingBy: inputLength)
            var count = 0
            for k in 0..<kernelSize {
                let t = s - k + paddingLeft
                guard t >= 0 && t < outputLength else { continue }
                let q = b * outputLength + t
                sources[count] = UnsafePointer(g.base + q * channels)
                weights[count] = UnsafePointer(w.base + q * kernelStride + k)
                count += 1
            }
            sumTaps(count, sources, weights, into: dx.base + p * channels)
        }
    }

    /// Runs `body(p, sources, weights)` for every position p < `count` on the worker threads,
    /// with room for one source row and one kernel pointer per tap.
    private func parallelTapChunks(_ count: Int,
                                   _ body: (Int, UnsafeMutablePointer<UnsafePointer<Float>>, UnsafeMutablePointer<UnsafePointer<Float>>) -> Void) {
        parallelFor(count, grain: grain) { positions in
            let sources = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: kernelSize)
            let weights = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: kernelSize)
            defer { sources.deallocate(); weights.deallocate() }
            for p in positions { body(p, sources, weights) }
        }
    }

    /// row[h·r + i] = Σ_j weights[j][h·K] · sources[j][h·r + i] over j < `count` (in order),
    /// r = C/H: each head's sum over its taps, 16 channels at a time held in a register, so
    /// that the row is written once instead of once per tap.
    private func sumTaps(_ count: Int, _ sources: UnsafePointer<UnsafePointer<Float>>, _ weights: UnsafePointer<UnsafePointer<Float>>,
                         into row: UnsafeMutablePointer<Float>) {
        let r = headChannels
        for h in 0..<heads {
            let offset = h * r, weightOffset = h * kernelSize
            var i = 0
            while i + 16 <= r {
                var sum = FloatVector()
                for j in 0..<count { sum.addProduct(loadVector(sources[j] + offset + i), FloatVector(repeating: weights[j][weightOffset])) }
                storeVector(sum, row + offset + i)
                i += 16
            }
            while i < r {
                var sum: Float = 0
                for j in 0..<count { sum += weights[j][weightOffset] * sources[j][offset + i] }
                row[offset + i] = sum
                i += 1
            }
        }
    }

    /// dw[t, h, k] = Σ_{c in h} dout[b, t, c] · x[b, t + k − paddingLeft, c], summed over every
    /// position when the kernels are shared.
    func kernelGradient(_ g: SendablePointer<Float>, _ x: SendablePointer<Float>, _ dw: SendablePointer<Float>) {
        let positions = batch * outputLength
        guard kernelStride == 0 else {
            parallelFor(positions, grain: grain) { range in
                for p in range { accumulateKernelGradient(at: p, g, x, into: dw.base + p * kernelStride) }
            }
            return
        }
        // Shared kernels: each worker sums dout ⊙ x per tap and channel ([K, C], in registers
        // 16 channels at a time), and the heads' channels are summed once at the end.
        let count = kernelSize * channels
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: Threading.count * count)
        partials.initialize(repeating: 0, count: Threading.count * count)
        defer { partials.deallocate() }
        let pp = SendablePointer(partials)
        let used = parallelChunks(positions, grain: grain) { chunk, range in
            let products = pp.base + chunk * count
            for p in range {
                let (b, t) = p.quotientAndRemainder(dividingBy: outputLength)
                let upstream = g.base + p * channels
                for k in taps(at: t) {
                    let source = x.base + (b * inputLength + t + k - paddingLeft) * channels
                    multiplyAdd(upstream, source, into: products + k * channels, channels)
                }
            }
        }
        for chunk in 1..<Swift.max(1, used) { vectorAxpy(1, partials + chunk * count, partials, count) }
        let r = headChannels
        for h in 0..<heads {
            for k in 0..<kernelSize { dw.base[h * kernelSize + k] = vectorSum(partials + k * channels + h * r, r) }
        }
    }

    /// Output position p's kernel gradient, into `kernel` ([heads, K]): dynamic kernels.
    private func accumulateKernelGradient(at p: Int, _ g: SendablePointer<Float>, _ x: SendablePointer<Float>,
                                          into kernel: UnsafeMutablePointer<Float>) {
        let r = headChannels
        let (b, t) = p.quotientAndRemainder(dividingBy: outputLength)
        let upstream = g.base + p * channels
        kernel.update(repeating: 0, count: kernelCount)
        for k in taps(at: t) {
            let source = x.base + (b * inputLength + t + k - paddingLeft) * channels
            for h in 0..<heads { kernel[h * kernelSize + k] += vectorDot(upstream + h * r, source + h * r, r) }
        }
    }
}
