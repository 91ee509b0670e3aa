/// Geometry of a 2-D convolution (1-D convolutions use height 1).
public struct Convolution2DGeometry: Sendable, Equatable {
    public var stride: (height: Int, width: Int)
    public var padding: (top: Int, bottom: Int, left: Int, right: Int)
    public var dilation: (height: Int, width: Int)
    public var groups: Int

    public init(stride: (height: Int, width: Int) = (1, 1), padding: (top: Int, bottom: Int, left: Int, right: Int) = (0, 0, 0, 0),
                dilation: (height: Int, width: Int) = (1, 1), groups: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation && a.groups == b.groups
    }
}

/// Sizes of one convolution call, derived once.
private struct ConvolutionPlan {
    let batch, channels, height, width, outChannels, kernelHeight, kernelWidth, outHeight, outWidth: Int
    let groups: Int
    let geometry: Convolution2DGeometry
    var channelsPerGroup: Int { channels / groups }
    var outPerGroup: Int { outChannels / groups }
    var columnRows: Int { channelsPerGroup * kernelHeight * kernelWidth }
    var columnWidth: Int { outHeight * outWidth }

    init(input: [Int], weight: [Int], geometry g: Convolution2DGeometry) {
        precondition(input.count == 4 && weight.count == 4, "conv2d needs input [B, C, H, W] and weight [O, C/groups, KH, KW]; got \(input) and \(weight)")
        batch = input[0]; channels = input[1]; height = input[2]; width = input[3]
        outChannels = weight[0]; kernelHeight = weight[2]; kernelWidth = weight[3]
        groups = g.groups
        geometry = g
        precondition(g.groups >= 1 && channels % g.groups == 0 && outChannels % g.groups == 0 && weight[1] == channels / g.groups,
                     "conv2d channels \(channels) → \(outChannels) with weight \(weight) do not fit \(g.groups) groups")
        precondition(g.stride.height >= 1 && g.stride.width >= 1 && g.dilation.height >= 1 && g.dilation.width >= 1,
                     "conv2d stride and dilation must be ≥ 1")
        outHeight = (height + g.padding.top + g.padding.bottom - g.dilation.height * (kernelHeight - 1) - 1) / g.stride.height + 1
        outWidth = (width + g.padding.left + g.padding.right - g.dilation.width * (kernelWidth - 1) - 1) / g.stride.width + 1
        precondition(outHeight > 0 && outWidth > 0, "conv2d output would be empty for input \(input) and kernel \(weight)")
    }

    /// Unfolds the receptive fields of one (batch, group) into columns [columnRows, columnWidth].
    func unfold(_ input: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        let g = geometry
        var row = 0
        for c in 0..<channelsPerGroup {
            let plane = input + c * height * width
            for kh in 0..<kernelHeight {
                for kw in 0..<kernelWidth {
                    let destination = columns + row * columnWidth
                    for oh in 0..<outHeight {
                        let ih = oh * g.stride.height - g.padding.top + kh * g.dilation.height
                        let out = destination + oh * outWidth
                        if ih < 0 || ih >= height { out.update(repeating: 0, count: outWidth); continue }
                        let source = plane + ih * width
                        for ow in 0..<outWidth {
                            let iw = ow * g.stride.width - g.padding.left + kw * g.dilation.width
                            out[ow] = iw >= 0 && iw < width ? source[iw] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds columns back into the input layout of one (batch, group): the adjoint of `unfold`.
    func fold(_ columns: UnsafePointer<Float>, into input: UnsafeMutablePointer<Float>) {
        let g = geometry
        var row = 0
        for c in 0..<channelsPerGroup {
            let plane = input + c * height * width
            for kh in 0..<kernelHeight {
                for kw in 0..<kernelWidth {
                    let source = columns + row * columnWidth
                    for oh in 0..<outHeight {
                        let ih = oh * g.stride.height - g.padding.top + kh * g.dilation.height
                        if ih < 0 || ih >= height { continue }
                        let destination = plane + ih * width, values = source + oh * outWidth
                        for ow in 0..<outWidth {
                            let iw = ow * g.stride.width - g.padding.left + kw * g.dilation.width
                            if iw >= 0 && iw < width { destination[iw] += values[ow] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}

/// 2-D convolution (cross-correlation, as in PyTorch): input [B, C, H, W], weight
/// [O, C/groups, KH, KW], optional bias [O] → [B, O, H', W']. Unfolds to columns and
/// multiplies through BLAS; the backward pass folds the column gradient back.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, geometry: Convolution2DGeometry = .init()) -> Tensor {
    let plan = ConvolutionPlan(input: input.shape, weight: weight.shape, geometry: geometry)
    if let bias { precondition(bias.shape == [plan.outChannels], "conv2d bias must have shape [\(plan.outChannels)], got \(bias.shape)") }
    let units = plan.batch * plan.groups
    let inputPlane = plan.channelsPerGroup * plan.height * plan.width
    let outputPlane = plan.outPerGroup * plan.columnWidth
    let weightGroup = plan.outPerGroup * plan.columnRows
    let x = input.detached(), w = weight.detached()
    var output = Tensor(shape: [plan.batch, plan.outChannels, plan.outHeight, plan.outWidth]) { out in
        x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                let px = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!)), pw = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
                let po = SendablePointer(out.baseAddress!)
                parallelFor(units) { range in
                    let columns = UnsafeMutablePointer<Float>.allocate(capacity: plan.columnRows * plan.columnWidth)
                    defer { columns.deallocate() }
                    for unit in range {
                        let group = unit % plan.groups
                        plan.unfold(px.base + unit * inputPlane, into: columns)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: plan.outPerGroup, n: plan.columnWidth, k: plan.columnRows,
                                   a: pw.base + group * weightGroup, lda: plan.columnRows, b: columns, ldb: plan.columnWidth,
                                   c: po.base + unit * outputPlane, ldc: plan.columnWidth)
                    }
                }
            }
        }
    }
    output = output.recorded(from: [input, weight]) { g in
        var gradInput: Tensor? = nil, gradWeight: Tensor? = nil
        g.withUnsafeBufferPointer { gb in
            let pg = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!))
            if input.requiresGradient {
                gradInput = Tensor(shape: input.shape) { dx in
                    dx.initialize(repeating: 0)
                    w.withUnsafeBufferPointer { wb in
                        let pw = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!)), pdx = SendablePointer(dx.baseAddress!)
                        parallelFor(units) { range in
                            let columns = UnsafeMutablePointer<Float>.allocate(capacity: plan.columnRows * plan.columnWidth)
                            defer { columns.deallocate() }
                            for unit in range {
                                let group = unit % plan.groups
                                BLAS.sgemm(transposeA: true, transposeB: false, m: plan.columnRows, n: plan.columnWidth, k: plan.outPerGroup,
                                           a: pw.base + group * weightGroup, lda: plan.columnRows, b: pg.base + unit * outputPlane, ldb: plan.columnWidth,
                                           c: columns, ldc: plan.columnWidth)
                                plan.fold(columns, into: pdx.base + unit * inputPlane)
                            }
                        }
                    }
                }
            }
            if weight.requiresGradient {
                let partials = UnsafeMutablePointer<Float>.allocate(capacity: Threading.count * weight.count)
                partials.initialize(repeating: 0, count: Threading.count * weight.count)
                defer { partials.deallocate() }
                let pp = SendablePointer(partials)
                let used = x.withUnsafeBufferPointer { xb in
                    let px = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
                    return parallelChunks(units) { chunk, range in
                        let columns = UnsafeMutablePointer<Float>.allocate(capacity: plan.columnRows * plan.columnWidth)
                        defer { columns.deallocate() }
                        let partial = pp.base + chunk * weight.count
                        for unit in range {
                            let group = unit % plan.groups
                            plan.unfold(px.base + unit * inputPlane, into: columns)
                            BLAS.sgemm(transposeA: false, transposeB: true, m: plan.outPerGroup, n: plan.columnRows, k: plan.columnWidth,
                                       a: pg.base + unit * outputPlane, lda: plan.columnWidth, b: columns, ldb: plan.columnWidth,
                                       beta: 1, c: partial + group * weightGroup, ldc: plan.columnRows)
                        }
                    }
                }
                gradWeight = Tensor(shape: weight.shape) { dw in
                    dw.baseAddress!.update(from: partials, count: weight.count)
                    for chunk in 1..<Swift.max(used, 1) { vectorAxpy(1, partials + chunk * weight.count, dw.baseAddress!, weight.count) }
                }
            }
        }
        return [gradInput, gradWeight]
    }
    if let bias { output = output + bias.reshaped(to: [1, plan.outChannels, 1, 1]) }
    return output
}

/// 1-D convolution: input [B, C, L], weight [O, C/groups, K], optional bias [O] → [B, O, L'].
/// `padding` is (left, right); `causal` pads (K − 1)·dilation on the left only, so that
/// output t sees inputs ≤ t.
public func conv1d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1,
                   padding: (left: Int, right: Int) = (0, 0), dilation: Int = 1, groups: Int = 1, causal: Bool = false) -> Tensor {
    precondition(input.rank == 3 && weight.rank == 3, "conv1d needs input [B, C, L] and weight [O, C/groups, K]; got \(input.shape) and \(weight.shape)")
    let pads = causal ? (dilation * (weight.shape[2] - 1), 0) : padding
    let geometry = Convolution2DGeometry(stride: (1, stride), padding: (0, 0, pads.0, pads.1), dilation: (1, dilation), groups: groups)
    let y = conv2d(input.expandingDimension(at: 2), weight: weight.expandingDimension(at: 2), bias: bias, geometry: geometry)
    return y.squeezingDimension(at: 2)
}
