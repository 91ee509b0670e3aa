import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Direct-loop 2-D cross-correlation, in Double.
func naiveConv2d(_ x: Tensor, _ w: Tensor, bias: Tensor?, _ g: Convolution2DGeometry) -> Tensor {
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (outChannels, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let cpg = channels / g.groups, opg = outChannels / g.groups
    let oh = (height + g.padding.top + g.padding.bottom - g.dilation.height * (kh - 1) - 1) / g.stride.height + 1
    let ow = (width + g.padding.left + g.padding.right - g.dilation.width * (kw - 1) - 1) / g.stride.width + 1
    let xv = x.scalars, wv = w.scalars, bv = bias?.scalars
    var out = [Float](repeating: 0, count: batch * outChannels * oh * ow)
    for b in 0..<batch {
        for o in 0..<outChannels {
            let group = o / opg
            for i in 0..<oh {
                for j in 0..<ow {
                    var total = Double(bv?[o] ?? 0)
                    for c in 0..<cpg {
                        let ic = group * cpg + c
                        for u in 0..<kh {
                            for v in 0..<kw {
                                let ih = i * g.stride.height - g.padding.top + u * g.dilation.height
                                let iw = j * g.stride.width - g.padding.left + v * g.dilation.width
                                guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                total += Double(xv[((b * channels + ic) * height + ih) * width + iw]) * Double(wv[((o * cpg + c) * kh + u) * kw + v])
                            }
                        }
                    }
                    out[((b * outChannels + o) * oh + i) * ow + j] = Float(total)
                }
            }
        }
    }
    return Tensor(out, shape: [batch, outChannels, oh, ow])
}

/// A convolution configuration for parameterized tests.
struct ConvolutionCase: Sendable, CustomStringConvertible {
    let name: String
    let input: [Int]
    let weight: [Int]
    let geometry: Convolution2DGeometry
    let bias: Bool
    var description: String { name }
}

let convolutionCases: [ConvolutionCase] = [
    .init(name: "plain", input: [2, 3, 5, 6], weight: [4, 3, 3, 3], geometry: .init(), bias: false),
    .init(name: "bias", input: [1, 2, 4, 4], weight: [3, 2, 2, 3], geometry: .init(), bias: true),
    .init(name: "stride (2, 1)", input: [2, 2, 5, 5], weight: [3, 2, 3, 2], geometry: .init(stride: (2, 1)), bias: true),
    .init(name: "asymmetric padding", input: [1, 2, 4, 5], weight: [2, 2, 3, 3],
          geometry: .init(padding: (top: 1, bottom: 0, left: 2, right: 1)), bias: false),
    .init(name: "dilation (1, 2)", input: [1, 2, 5, 7], weight: [2, 2, 2, 3], geometry: .init(dilation: (1, 2)), bias: true),
    .init(name: "groups 2", input: [2, 4, 4, 4], weight: [6, 2, 3, 3], geometry: .init(padding: (1, 1, 1, 1), groups: 2), bias: true),
    .init(name: "depthwise", input: [1, 3, 5, 5], weight: [3, 1, 3, 3], geometry: .init(stride: (2, 2), padding: (1, 1, 1, 1), groups: 3), bias: false),
    .init(name: "everything", input: [2, 4, 6, 7], weight: [4, 2, 2, 3],
          geometry: .init(stride: (2, 3), padding: (top: 2, bottom: 1, left: 0, right: 3), dilation: (2, 1), groups: 2), bias: true),
]

@Suite struct ConvolutionTests {
    @Test(arguments: convolutionCases)
    func conv2dMatchesDirectLoops(_ c: ConvolutionCase) {
        var random = TestRandom(seed: 121)
        let x = random.normal(c.input), w = random.normal(c.weight), b = c.bias ? random.normal([c.weight[0]]) : nil
        let y = conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let expected = naiveConv2d(x, w, bias: b, c.geometry)
        #expect(y.shape == expected.shape)
        #expect(relativeError(y, expected) < 1e-6, "relative error \(relativeError(y, expected))")
    }

    @Test(arguments: convolutionCases)
    func conv2dGradients(_ c: ConvolutionCase) {
        var random = TestRandom(seed: 122)
        var points = [random.normal(c.input), random.normal(c.weight, standardDeviation: 0.5)]
        if c.bias { points.append(random.normal([c.weight[0]])) }
        expectGradientsMatch(points, "conv2d \(c.name)") { p in
            conv2d(p[0], weight: p[1], bias: c.bias ? p[2] : nil, geometry: c.geometry)
        }
    }

    @Test func largeBatchSplitsAcrossWorkers() {
        var random = TestRandom(seed: 123)
        let x = random.normal([16, 4, 6, 6]), w = random.normal([6, 2, 3, 3])
        let geometry = Convolution2DGeometry(padding: (1, 1, 1, 1), groups: 2)
        let y = conv2d(x, weight: w, geometry: geometry)
        #expect(relativeError(y, naiveConv2d(x, w, bias: nil, geometry)) < 1e-6)
        // The weight gradient sums per-worker partials: compare with a direct Σ over the batch.
        let g = random.normal(y.shape)
        let (_, grads) = valueAndGradient(at: [x, w]) { (conv2d($0[0], weight: $0[1], geometry: geometry) * g).sum() }
        var expected = Tensor.zeros(w.shape)
        for b in 0..<16 {
            let (_, single) = valueAndGradient(at: [w]) { p in
                (conv2d(x.sliced(alongAxis: 0, b..<(b + 1)), weight: p[0], geometry: geometry) * g.sliced(alongAxis: 0, b..<(b + 1))).sum()
            }
            expected = expected + single[0]
        }
        #expect(relativeError(grads[1], expected) < 1e-5)
    }

    @Test func conv1dMatchesConv2dWithHeightOne() {
        var random = TestRandom(seed: 124)
        let x = random.normal([2, 4, 9]), w = random.normal([6, 2, 3]), b = random.normal([6])
        let y = conv1d(x, weight: w, bias: b, stride: 2, padding: (1, 2), dilation: 2, groups: 2)
        let geometry = Convolution2DGeometry(stride: (1, 2), padding: (0, 0, 1, 2), dilation: (1, 2), groups: 2)
        let expected = naiveConv2d(x.reshaped(to: [2, 4, 1, 9]), w.reshaped(to: [6, 2, 1, 3]), bias: b, geometry)
        #expect(y.shape == [2, 6, expected.shape[3]])
        #expect(relativeError(y, expected.reshaped(to: y.shape)) < 1e-6)
    }

    @Test func causalConv1dSeesOnlyThePast() {
        var random = TestRandom(seed: 125)
        let x = random.normal([1, 2, 10]), w = random.normal([3, 2, 3])
        let y = conv1d(x, weight: w, dilation: 2, causal: true)
        #expect(y.shape == [1, 3, 10])
        // Changing inputs at time ≥ 6 leaves outputs before 6 unchanged.
        var changed = x
        changed.withUnsafeMutableBufferPointer { v in for c in 0..<2 { for t in 6..<10 { v[c * 10 + t] += 5 } } }
        let z = conv1d(changed, weight: w, dilation: 2, causal: true)
        for o in 0..<3 {
            #expect(Array(y.scalars[(o * 10)..<(o * 10 + 6)]) == Array(z.scalars[(o * 10)..<(o * 10 + 6)]))
            #expect(y.scalars[o * 10 + 6] != z.scalars[o * 10 + 6])
        }
        // Output t = Σ_k w[k] x[t − (K − 1 − k)·dilation].
        let expected = naiveConv2d(x.reshaped(to: [1, 2, 1, 10]), w.reshaped(to: [3, 2, 1, 3]), bias: nil,
                                   Convolution2DGeometry(padding: (0, 0, 4, 0), dilation: (1, 2)))
        #expect(relativeError(y, expected.reshaped(to: y.shape)) < 1e-6)
    }

    @Test func conv1dGradients() {
        var random = TestRandom(seed: 126)
        let x = random.normal([2, 3, 7]), depthwise = random.normal([3, 1, 3]), bias = random.normal([3])
        expectGradientsMatch([x, depthwise, bias], "conv1d causal depthwise") { p in
            conv1d(p[0], weight: p[1], bias: p[2], groups: 3, causal: true)
        }
        let w = random.normal([4, 3, 2])
        expectGradientsMatch([x, w], "conv1d causal dilated") { p in conv1d(p[0], weight: p[1], dilation: 2, causal: true) }
        expectGradientsMatch([x, w], "conv1d strided padded") { p in conv1d(p[0], weight: p[1], stride: 2, padding: (1, 0)) }
    }
}
