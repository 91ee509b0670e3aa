import GlanceCore

// Small loop helpers shared by GlanceNN's hand-written kernels.

/// Calls `vector` at j = 0, 16, 32, … while 16 lanes fit in `count`, then `tail` for each index left.
@inline(__always)
func forEachLane(_ count: Int, _ vector: (Int) -> Void, tail: (Int) -> Void) {
    var j = 0
    while j + 16 <= count { vector(j); j += 16 }
    while j < count { tail(j); j += 1 }
}

/// Calls `body` with the elements of `tensor`, or with nil when there is none.
func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress!) }
}
