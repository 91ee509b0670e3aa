/// The part of a tensor that one operation reads: elements `start, start + step, …`
/// (`count` of them) along one axis, all of every other axis.
///
/// An operation that reads only such a part (a slice) hands back the gradient of that part
/// alone; ``GradientNode/accumulate(_:into:)`` adds it into the input's gradient in place,
/// so that slicing a tensor into many parts costs one full-size gradient buffer, not one per
/// part.
struct GradientRegion {
    let axis: Int
    let start: Int
    let step: Int
    let count: Int

    /// The shape of the part of a tensor of shape `whole`.
    func shape(within whole: [Int]) -> [Int] {
        var shape = whole
        shape[axis] = count
        return shape
    }
}

extension Tensor {
    /// Adds `part` (shaped like `region` of this tensor) into that region, in place.
    mutating func addInPlace(_ part: Tensor, at region: GradientRegion) {
        precondition(part.shape == region.shape(within: shape),
                     "part of shape \(part.shape) for region \(region) of a tensor of shape \(shape)")
        let (outer, extent, inner) = split(shape, at: region.axis)
        let rowLength = region.count * inner
        part.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { destination in
                for o in 0..<outer {
                    let from = source.baseAddress! + o * rowLength, to = destination.baseAddress! + (o * extent + region.start) * inner
                    if region.step == 1 {
                        vectorAxpy(1, from, to, rowLength)
                    } else {
                        for index in 0..<region.count { vectorAxpy(1, from + index * inner, to + index * region.step * inner, inner) }
                    }
                }
            }
        }
    }
}
