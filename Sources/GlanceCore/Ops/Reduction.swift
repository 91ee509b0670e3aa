import Foundation

/// Splits a shape around one axis: `outer × extent × inner`.
@inline(__always)
func split(_ shape: [Int], at axis: Int) -> (outer: Int, extent: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

/// Sum over one axis of a contiguous buffer viewed as outer × extent × inner.
func sumKernel(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, outer: Int, extent: Int, inner: Int) {
    let input = SendablePointer(UnsafeMutablePointer(mutating: x)), output = SendablePointer(out)
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, (1 << 15) / Swift.max(extent, 1))) { rows in
            for o in rows { output.base[o] = vectorSum(input.base + o * extent, extent) }
        }
    } else {
        parallelFor(outer, grain: Swift.max(1, (1 << 15) / Swift.max(extent * inner, 1))) { rows in
            for o in rows {
                let destination = output.base + o * inner
                destination.update(repeating: 0, count: inner)
                for e in 0..<extent { vectorAxpy(1, input.base + (o * extent + e) * inner, destination, inner) }
            }
        }
    }
}

/// Maximum and index of the first maximum over the middle axis of a buffer viewed as
/// outer × extent × inner (a NaN at the start of a line stays its maximum, as in a scalar scan).
func maxKernel(_ x: UnsafePointer<Float>, values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>,
               outer: Int, extent: Int, inner: Int) {
    let input = SendablePointer(x), best = SendablePointer(values), position = SendablePointer(indices)
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, (1 << 15) / extent)) { rows in
            for o in rows {
                let line = input.base + o * extent
                let peak = line[0].isNaN ? line[0] : vectorMax(line, extent)
                var index = 0
                while !peak.isNaN && line[index] != peak { index += 1 }
                best.base[o] = peak
                position.base[o] = index
            }
        }
        return
    }
    // Lines run along `inner`: scan the extent once per block of `inner`, element-wise.
    parallelFor(outer * inner, grain: Swift.max(1, (1 << 15) / extent)) { range in
        var start = range.lowerBound
        while start < range.upperBound {
            let o = start / inner, first = start % inner
            let last = Swift.min(inner, first + range.upperBound - start)
            let values = best.base + o * inner, indices = position.base + o * inner
            for i in first..<last { values[i] = input.base[o * extent * inner + i]; indices[i] = 0 }
            for e in 1..<extent {
                let row = input.base + (o * extent + e) * inner
                for i in first..<last where row[i] > values[i] { values[i] = row[i]; indices[i] = e }
            }
            start += last - first
        }
    }
}

extension Tensor {
    /// Sum over one axis.
    public func sum(alongAxis axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, extent, inner) = split(shape, at: axis)
        var reducedShape = shape
        reducedShape[axis] = 1
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: reducedShape) { out in
                sumKernel(source.baseAddress!, out.baseAddress!, outer: outer, extent: extent, inner: inner)
            }
        }
        let inputShape = shape
        let result = y.recorded(from: [self]) { g in [g.broadcast(to: inputShape)] }
        return keep ? result : result.reshaped(to: shape.enumerated().filter { $0.offset != axis }.map(\.element))
    }

    /// Sum over several axes.
    public func sum(alongAxes axes: [Int], keepingDimensions keep: Bool = false) -> Tensor {
        let resolved = Set(axes.map { normalizeAxis($0, rank: rank) })
        var result = self
        for axis in resolved.sorted() { result = result.sum(alongAxis: axis, keepingDimensions: true) }
        return keep ? result : result.reshaped(to: shape.enumerated().filter { !resolved.contains($0.offset) }.map(\.element))
    }

    /// Sum of all elements, as a rank-0 tensor.
    public func sum() -> Tensor {
        let total = withUnsafeBufferPointer { vectorSum($0.baseAddress!, count) }
        let inputShape = shape
        return Tensor(scalar: total).recorded(from: [self]) { g in [Tensor(shape: inputShape, repeating: g.item())] }
    }

    /// Mean of all elements.
    public func mean() -> Tensor { sum() / Float(Swift.max(count, 1)) }

    /// Mean over the given axes.
    public func mean(alongAxes axes: [Int], keepingDimensions keep: Bool = false) -> Tensor {
        let n = axes.map { shape[normalizeAxis($0, rank: rank)] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keep) / Float(n)
    }

    /// Population variance over the given axes (divides by the number of elements).
    public func variance(alongAxes axes: [Int], keepingDimensions keep: Bool = false) -> Tensor {
        let centered = self - mean(alongAxes: axes, keepingDimensions: true)
        return centered.squared().mean(alongAxes: axes, keepingDimensions: keep)
    }

    /// Maximum over one axis; the gradient flows to the first maximal element.
    public func max(alongAxis axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (values, indices) = maxAndArgmax(axis: axis)
        let inputShape = shape
        let result = values.recorded(from: [self]) { g in
            [Tensor(shape: inputShape) { out in
                out.initialize(repeating: 0)
                let (outer, extent, inner) = split(inputShape, at: axis)
                g.withUnsafeBufferPointer { gradient in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            out[(o * extent + indices[o * inner + i]) * inner + i] = gradient[o * inner + i]
                        }
                    }
                }
            }]
        }
        return keep ? result : result.reshaped(to: shape.enumerated().filter { $0.offset != axis }.map(\.element))
    }

    /// Index of the maximum along one axis (first one on ties), with that axis removed.
    public func argmax(alongAxis axis: Int) -> [Int] { maxAndArgmax(axis: normalizeAxis(axis, rank: rank)).1 }

    /// Largest element.
    public func max() -> Float { withUnsafeBufferPointer { vectorMax($0.baseAddress!, count) } }

    private func maxAndArgmax(axis: Int) -> (Tensor, [Int]) {
        let (outer, extent, inner) = split(shape, at: axis)
        precondition(extent > 0, "max over an empty axis of shape \(shape)")
        var reducedShape = shape
        reducedShape[axis] = 1
        var indices = [Int](repeating: 0, count: outer * inner)
        let values = withUnsafeBufferPointer { x in
            Tensor(shape: reducedShape) { out in
                indices.withUnsafeMutableBufferPointer { indexBuffer in
                    maxKernel(x.baseAddress!, values: out.baseAddress!, indices: indexBuffer.baseAddress!, outer: outer, extent: extent, inner: inner)
                }
            }
        }
        return (values, indices)
    }

    /// log Σ exp over one axis, computed stably.
    public func logSumExp(alongAxis axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
        let peak = withoutGradients { max(alongAxis: axis, keepingDimensions: true) }
        let finitePeak = peak.mapped { $0.replacing(with: 0, where: .!($0 .> -Float.infinity)) }
        let result = log(exp(self - finitePeak).sum(alongAxis: axis, keepingDimensions: true)) + finitePeak
        return keep ? result : result.reshaped(to: shape.enumerated().filter { $0.offset != normalizeAxis(axis, rank: rank) }.map(\.element))
    }
}
