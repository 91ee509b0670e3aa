extension Tensor {
    /// The same elements under a new shape with the same count; one dimension may be -1.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[unknown] = count / known
        }
        precondition(elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
        if resolved == shape { return self }
        let inputShape = shape
        return Tensor(shape: resolved, storage: storage).recorded(from: [self]) { g in [g.reshaped(to: inputShape)] }
    }

    /// Flattens dimensions `start...end` into one.
    public func flattened(from start: Int = 0, through end: Int = -1) -> Tensor {
        let s = normalizeAxis(start, rank: rank), e = normalizeAxis(end, rank: rank)
        return reshaped(to: Array(shape[..<s]) + [shape[s...e].reduce(1, *)] + Array(shape[(e + 1)...]))
    }

    /// Inserts a dimension of extent 1 at `axis`.
    public func expandingDimension(at axis: Int) -> Tensor {
        let axis = axis < 0 ? axis + rank + 1 : axis
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(to: newShape)
    }

    /// Removes a dimension of extent 1.
    public func squeezingDimension(at axis: Int) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        precondition(shape[axis] == 1, "cannot squeeze axis \(axis) of shape \(shape)")
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(to: newShape)
    }

    /// Broadcasts to a larger shape (NumPy rules); the gradient is summed back.
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(broadcastShape(shape, target) == target, "cannot broadcast \(shape) to \(target)")
        let plan = BroadcastPlan(output: target, a: shape, b: target)
        let inner = plan.shape.last!, innerStride = plan.aStrides.last!
        let rows = plan.shape.dropLast().reduce(1, *)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: target) { out in
                let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                parallelFor(rows, grain: Swift.max(1, (1 << 14) / inner)) { range in
                    for row in range {
                        var offset = 0, rest = row
                        for axis in stride(from: plan.shape.count - 2, through: 0, by: -1) {
                            offset += (rest % plan.shape[axis]) * plan.aStrides[axis]
                            rest /= plan.shape[axis]
                        }
                        let destination = o.base + row * inner
                        if innerStride == 0 { destination.update(repeating: x.base[offset], count: inner) }
                        else { destination.update(from: x.base + offset, count: inner) }
                    }
                }
            }
        }
        let inputShape = shape
        return y.recorded(from: [self]) { g in [g.unbroadcast(to: inputShape)] }
    }

    /// Reorders dimensions: result dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "\(order) is not a permutation of the axes of \(shape)")
        if order == Array(0..<rank) { return self }
        let newShape = order.map { shape[$0] }
        let inputStrides = contiguousStrides(shape)
        let strides = order.map { inputStrides[$0] }
        let inner = newShape.last!, innerStride = strides.last!
        let rows = newShape.dropLast().reduce(1, *)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: newShape) { out in
                let x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!)), o = SendablePointer(out.baseAddress!)
                parallelFor(rows, grain: Swift.max(1, (1 << 14) / Swift.max(inner, 1))) { range in
                    for row in range {
                        var offset = 0, rest = row
                        for axis in stride(from: newShape.count - 2, through: 0, by: -1) {
                            offset += (rest % newShape[axis]) * strides[axis]
                            rest /= newShape[axis]
                        }
                        let destination = o.base + row * inner
                        if innerStride == 1 {
                            destination.update(from: x.base + offset, count: inner)
                        } else {
                            var p = x.base + offset
                            for j in 0..<inner { destination[j] = p.pointee; p += innerStride; _ = j }
                        }
                    }
                }
            }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, axis) in order.enumerated() { inverse[axis] = i }
        return y.recorded(from: [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (by default the last two).
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizeAxis(first, rank: rank), normalizeAxis(second, rank: rank))
        return permuted(order)
    }

    /// Elements `range` (with an optional step) along one axis.
    public func sliced(alongAxis axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis] && step > 0,
                     "slice \(range) step \(step) out of bounds for axis \(axis) of shape \(shape)")
        if range == 0..<shape[axis] && step == 1 { return self }
        let (outer, extent, inner) = split(shape, at: axis)
        let picked = stride(from: range.lowerBound, to: range.upperBound, by: step).map { $0 }
        var newShape = shape
        newShape[axis] = picked.count
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: newShape) { out in
                var destination = out.baseAddress!
                for o in 0..<outer {
                    if step == 1 {
                        let n = picked.count * inner
                        destination.update(from: source.baseAddress! + (o * extent + range.lowerBound) * inner, count: n)
                        destination += n
                    } else {
                        for index in picked {
                            destination.update(from: source.baseAddress! + (o * extent + index) * inner, count: inner)
                            destination += inner
                        }
                    }
                }
            }
        }
        // The gradient of the picked elements is the output's gradient itself.
        return y.recorded(fromRegion: GradientRegion(axis: axis, start: range.lowerBound, step: step, count: picked.count), of: self) { $0 }
    }

    /// Pads each axis with `value`: `padding[i]` is (before, after) for axis i.
    public func padded(_ padding: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(padding.count == rank, "padding for \(padding.count) axes given to a tensor of shape \(shape)")
        precondition(padding.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "negative padding \(padding)")
        let newShape = zip(shape, padding).map { $0 + $1.before + $1.after }
        let newStrides = contiguousStrides(newShape)
        let inner = shape.last ?? 1
        let rows = count / Swift.max(inner, 1)
        let y = withUnsafeBufferPointer { source in
            Tensor(shape: newShape) { out in
                out.initialize(repeating: value)
                guard count > 0 else { return }
                for row in 0..<rows {
                    var rest = row, offset = padding.last!.before
                    for axis in stride(from: rank - 2, through: 0, by: -1) {
                        offset += (rest % shape[axis] + padding[axis].before) * newStrides[axis]
                        rest /= shape[axis]
                    }
                    (out.baseAddress! + offset).update(from: source.baseAddress! + row * inner, count: inner)
                }
            }
        }
        let original = shape
        return y.recorded(from: [self]) { g in
            var gradient = g
            for axis in 0..<original.count {
                gradient = gradient.sliced(alongAxis: axis, padding[axis].before..<(padding[axis].before + original[axis]))
            }
            return [gradient]
        }
    }

    /// Repeats the tensor `multiples[i]` times along axis i (like `torch.Tensor.repeat`).
    public func tiled(_ multiples: [Int]) -> Tensor {
        precondition(multiples.count == rank && multiples.allSatisfy { $0 >= 1 }, "bad tile multiples \(multiples) for shape \(shape)")
        let interleaved = shape.flatMap { [1, $0] }
        let expanded = zip(multiples, shape).flatMap { [$0, $1] }
        return reshaped(to: interleaved).broadcast(to: expanded).reshaped(to: zip(multiples, shape).map { $0 * $1 })
    }
}

/// Joins tensors along an existing axis; all other extents must agree.
public func concatenate(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
    let first = tensors[0]
    let axis = normalizeAxis(axis, rank: first.rank)
    for t in tensors {
        precondition(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] },
                     "cannot concatenate shapes \(tensors.map(\.shape)) along axis \(axis)")
    }
    let extents = tensors.map { $0.shape[axis] }
    var newShape = first.shape
    newShape[axis] = extents.reduce(0, +)
    let (outer, _, inner) = split(newShape, at: axis)
    let total = newShape[axis]
    let y = Tensor(shape: newShape) { out in
        var start = 0
        for (t, extent) in zip(tensors, extents) {
            t.withUnsafeBufferPointer { source in
                for o in 0..<outer {
                    (out.baseAddress! + (o * total + start) * inner).update(from: source.baseAddress! + o * extent * inner, count: extent * inner)
                }
            }
            start += extent
        }
    }
    return y.recorded(from: tensors) { g in
        var start = 0
        return extents.map { extent in
            defer { start += extent }
            return g.sliced(alongAxis: axis, start..<(start + extent))
        }
    }
}

/// Stacks tensors of one shape along a new axis.
public func stack(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
    precondition(!tensors.isEmpty, "stack needs at least one tensor")
    return concatenate(tensors.map { $0.expandingDimension(at: axis) }, alongAxis: axis)
}
