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
/// each head's channels run 16 lanes at a time.
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
        let r = headChannels
        parallelFor(batch * outputLength, grain: grain) { positions in
            for p in positions {
                let (b, t) = p.quotientAndRemainder(dividingBy: outputLength)
                let row = out.base + p * channels, kernel = w.base + p * kernelStride
                row.update(repeating: 0, count: channels)
                for k in taps(at: t) {
                    let source = x.base + (b * inputLength + t + k - paddingLeft) * channels
                    for h in 0..<heads { vectorAxpy(kernel[h * kernelSize + k], source + h * r, row + h * r, r) }
                }
            }
        }
    }

    /// dx[b, s, c] = Σ_k w[t, h, k] · dout[b, t, c] with t = s − k + paddingLeft.
    func inputGradient(_ g: SendablePointer<Float>, _ w: SendablePointer<Float>, _ dx: SendablePointer<Float>) {
        let r = headChannels
        parallelFor(batch * inputLength, grain: grain) { positions in
            for p in positions {
                let (b, s) = p.quotientAndRemainder(dividingBy: inputLength)
                let row = dx.base + p * channels
                row.update(repeating: 0, count: channels)
                for k in 0..<kernelSize {
                    let t = s - k + paddingLeft
                    guard t >= 0 && t < outputLength else { continue }
                    let q = b * outputLength + t
                    let upstream = g.base + q * channels, kernel = w.base + q * kernelStride
                    for h in 0..<heads { vectorAxpy(kernel[h * kernelSize + k], upstream + h * r, row + h * r, r) }
                }
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
        let count = kernelCount
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: Threading.count * count)
        partials.initialize(repeating: 0, count: Threading.count * count)
        defer { partials.deallocate() }
        let pp = SendablePointer(partials)
        let used = parallelChunks(positions, grain: grain) { chunk, range in
            for p in range { accumulateKernelGradient(at: p, g, x, into: pp.base + chunk * count) }
        }
        dw.base.update(repeating: 0, count: count)
        for chunk in 0..<used { vectorAxpy(1, partials + chunk * count, dw.base, count) }
    }

    /// Adds output position p's part of the kernel gradient to `kernel` ([heads, K]).
    private func accumulateKernelGradient(at p: Int, _ g: SendablePointer<Float>, _ x: SendablePointer<Float>,
                                          into kernel: UnsafeMutablePointer<Float>) {
        let r = headChannels
        let (b, t) = p.quotientAndRemainder(dividingBy: outputLength)
        let upstream = g.base + p * channels
        if kernelStride != 0 { kernel.update(repeating: 0, count: kernelCount) }
        for k in taps(at: t) {
            let source = x.base + (b * inputLength + t + k - paddingLeft) * channels
            for h in 0..<heads { kernel[h * kernelSize + k] += vectorDot(upstream + h * r, source + h * r, r) }
        }
    }
}
