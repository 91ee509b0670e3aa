import GlanceCore

/// Depthwise 1-D convolution along the time axis of [batch, time, channels] tensors: each
/// channel has its own K-tap filter, `out[b, t, c] = bias[c] + Σ_k w[c, k] · x[b, t·stride −
/// padding + k, c]`, with zeros outside the input (PyTorch's `Conv1d(C, C, K, groups=C)` on the
/// transposed layout). The weight is [channels, 1, K], PyTorch's layout.
///
/// A direct kernel: channels are contiguous in this layout, so every tap is one SIMD
/// multiply-add over a row of channels; rows (batch × output time) are split across threads.
/// The backward pass is hand-written: the input gradient gathers, for each input row, the taps
/// that read it; the weight and bias gradients are per-thread partial sums, added at the end.
public func depthwiseConvolution1D(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int) -> Tensor {
    precondition(input.rank == 3 && weight.rank == 3 && weight.shape[1] == 1 && weight.shape[0] == input.shape[2],
                 "depthwise convolution needs input [batch, time, C] and weight [C, 1, K]; got \(input.shape) and \(weight.shape)")
    if let bias { precondition(bias.shape == [input.shape[2]], "depthwise convolution bias must be [\(input.shape[2])], got \(bias.shape)") }
    let plan = DepthwisePlan(batch: input.shape[0], time: input.shape[1], channels: input.shape[2], taps: weight.shape[2],
                             stride: stride, padding: padding)
    let x = input.detached(), taps = plan.tapMajor(weight.detached())
    let output = Tensor(shape: [plan.batch, plan.outputTime, plan.channels]) { out in
        x.withUnsafeBufferPointer { xb in
            taps.withUnsafeBufferPointer { wb in
                withOptionalPointer(bias?.detached()) { b in plan.forward(xb.baseAddress!, wb.baseAddress!, b, out.baseAddress!) }
            }
        }
    }
    let inputs = [input, weight] + (bias.map { [$0] } ?? [])
    return output.recorded(from: inputs) { g in
        g.withUnsafeBufferPointer { gb in
            let gradInput = input.requiresGradient ? taps.withUnsafeBufferPointer { wb in
                Tensor(shape: input.shape) { plan.inputGradient(gb.baseAddress!, wb.baseAddress!, $0.baseAddress!) }
            } : nil
            let parameters = (weight.requiresGradient || (bias?.requiresGradient ?? false)) ? x.withUnsafeBufferPointer {
                plan.parameterGradients(gb.baseAddress!, $0.baseAddress!)
            } : nil
            let gradWeight = weight.requiresGradient ? plan.channelMajor(parameters!.weight) : nil
            return [gradInput, gradWeight] + (bias == nil ? [] : [parameters?.bias])
        }
    }
}

/// Sizes and loops of one depthwise convolution call.
private struct DepthwisePlan: Sendable {
    let batch, time, channels, taps, stride, padding, outputTime: Int

    init(batch: Int, time: Int, channels: Int, taps: Int, stride: Int, padding: Int) {
        precondition(taps >= 1 && stride >= 1 && padding >= 0, "depthwise convolution needs K ≥ 1, stride ≥ 1, padding ≥ 0; got \(taps), \(stride), \(padding)")
        (self.batch, self.time, self.channels, self.taps, self.stride, self.padding) = (batch, time, channels, taps, stride, padding)
        outputTime = (time + 2 * padding - taps) / stride + 1
        precondition(outputTime >= 1, "depthwise convolution of \(time) frames with kernel \(taps), padding \(padding) would be empty")
    }

    /// [C, 1, K] → [K, C], so that one tap's filters are a contiguous row of channels.
    func tapMajor(_ weight: Tensor) -> Tensor {
        Tensor(shape: [taps, channels]) { out in
            weight.withUnsafeBufferPointer { w in
                for c in 0..<channels { for k in 0..<taps { out[k * channels + c] = w[c * taps + k] } }
            }
        }
    }

    /// [K, C] → [C, 1, K].
    func channelMajor(_ tapRows: Tensor) -> Tensor {
        Tensor(shape: [channels, 1, taps]) { out in
            tapRows.withUnsafeBufferPointer { w in
                for k in 0..<taps { for c in 0..<channels { out[c * taps + k] = w[k * channels + c] } }
            }
        }
    }

    /// The input frame that tap `k` of output frame `t` reads (may be outside 0..<time).
    func source(output t: Int, tap k: Int) -> Int { t * stride - padding + k }

    func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>) {
        let (px, pw, po, pb) = (SendablePointer(UnsafeMutablePointer(mutating: x)), SendablePointer(UnsafeMutablePointer(mutating: w)),
                                SendablePointer(out), bias.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) })
        parallelFor(batch * outputTime, grain: 16) { rows in
            for row in rows {
                let b = row / outputTime, t = row % outputTime
                let destination = po.base + row * channels
                if let pb { destination.update(from: pb.base, count: channels) } else { destination.update(repeating: 0, count: channels) }
                for k in 0..<taps {
                    let s = source(output: t, tap: k)
                    guard s >= 0 && s < time else { continue }
                    multiplyAdd(pw.base + k * channels, px.base + (b * time + s) * channels, into: destination, channels)
                }
            }
        }
    }

    /// dx[b, s, c] = Σ over the (t, k) with t·stride − padding + k = s of w[k, c]·g[b, t, c].
    func inputGradient(_ g: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let (pg, pw, pdx) = (SendablePointer(UnsafeMutablePointer(mutating: g)), SendablePointer(UnsafeMutablePointer(mutating: w)), SendablePointer(dx))
        parallelFor(batch * time, grain: 16) { rows in
            for row in rows {
                let b = row / time, s = row % time
                let destination = pdx.base + row * channels
                destination.update(repeating: 0, count: channels)
                for k in 0..<taps {
                    let shifted = s + padding - k
                    guard shifted >= 0, shifted % stride == 0, shifted / stride < outputTime else { continue }
                    multiplyAdd(pw.base + k * channels, pg.base + (b * outputTime + shifted / stride) * channels, into: destination, channels)
                }
            }
        }
    }

    /// dw[k, c] = Σ_{b, t} g[b, t, c]·x[b, t·stride − padding + k, c] ([K, C]) and db[c] = Σ g.
    func parameterGradients(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>) -> (weight: Tensor, bias: Tensor) {
        let width = (taps + 1) * channels
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: Threading.count * width)
        partials.initialize(repeating: 0, count: Threading.count * width)
        defer { partials.deallocate() }
        let (pg, px, pp) = (SendablePointer(UnsafeMutablePointer(mutating: g)), SendablePointer(UnsafeMutablePointer(mutating: x)), SendablePointer(partials))
        let used = parallelChunks(batch * outputTime, grain: 16) { chunk, rows in
            let partial = pp.base + chunk * width
            for row in rows {
                let b = row / outputTime, t = row % outputTime
                let gradient = pg.base + row * channels
                vectorAxpy(1, gradient, partial + taps * channels, channels)
                for k in 0..<taps {
                    let s = source(output: t, tap: k)
                    guard s >= 0 && s < time else { continue }
                    multiplyAdd(gradient, px.base + (b * time + s) * channels, into: partial + k * channels, channels)
                }
            }
        }
        for chunk in 1..<Swift.max(used, 1) { vectorAxpy(1, partials + chunk * width, partials, width) }
        let weight = Tensor(shape: [taps, channels]) { $0.baseAddress!.update(from: partials, count: taps * channels) }
        let bias = Tensor(shape: [channels]) { $0.baseAddress!.update(from: partials + taps * channels, count: channels) }
        return (weight, bias)
    }
}

/// y[i] += a[i] · x[i], vectorized (also the headwise convolution's kernel gradient).
@inline(__always)
func multiplyAdd(_ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 16 <= count {
        storeVector(loadVector(y + i).addingProduct(loadVector(a + i), loadVector(x + i)), y + i)
        i += 16
    }
    while i < count { y[i] += a[i] * x[i]; i += 1 }
}

/// A depthwise convolution layer over [batch, time, channels] with "same" padding
/// ((K − 1)/2 frames on each side, K odd): the Conformer convolution module's time filter.
/// Frames marked invalid in `validFrames` are zeroed before the filter reads them, so that
/// padding never leaks into real frames. (Its pointwise convolutions are ``Linear`` layers.)
public final class DepthwiseConvolution1D: Module {
    /// [channels, 1, K], PyTorch's `Conv1d(groups=channels)` layout.
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int

    /// Weights from PyTorch's default uniform(−1/√K, 1/√K); the bias starts at zero.
    public init(channels: Int, kernelSize: Int, stride: Int = 1, bias: Bool = true, generator: inout RandomGenerator) {
        precondition(channels > 0 && kernelSize > 0 && kernelSize % 2 == 1 && stride >= 1,
                     "DepthwiseConvolution1D needs channels > 0, an odd kernel and stride ≥ 1; got \(channels), \(kernelSize), \(stride)")
        let bound = 1 / Float(kernelSize).squareRoot()
        weight = Parameter(.randomUniform(shape: [channels, 1, kernelSize], lower: -bound, upper: bound, generator: &generator))
        self.bias = bias ? Parameter(.zeros([channels])) : nil
        self.stride = stride
        super.init()
    }

    public var channels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[2] }

    /// [batch, time, channels] → [batch, ⌈time / stride⌉, channels]. `validFrames` ([batch,
    /// time, 1] of ones and zeros, see ``frameMask(_:time:)``) zeroes padded frames first.
    public func callAsFunction(_ input: Tensor, validFrames: Tensor? = nil) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == channels,
                     "DepthwiseConvolution1D expects [batch, time, \(channels)], got \(input.shape)")
        let masked = validFrames.map { input * $0 } ?? input
        return depthwiseConvolution1D(masked, weight: weight.value, bias: bias?.value, stride: stride, padding: (kernelSize - 1) / 2)
    }
}

/// [batch, time, 1]: 1 for the first `lengths[b]` frames of entry b, 0 after them.
public func frameMask(_ lengths: [Int], time: Int) -> Tensor {
    Tensor(shape: [lengths.count, time, 1]) { out in
        for (b, length) in lengths.enumerated() { for t in 0..<time { out[b * time + t] = t < length ? 1 : 0 } }
    }
}
