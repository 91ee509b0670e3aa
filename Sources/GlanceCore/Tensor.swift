import Foundation

/// Contiguous, reference-counted Float32 buffer behind one or more tensors.
///
/// Storage it allocates is 64-byte aligned so that SIMD kernels and BLAS see aligned rows;
/// storage borrowed from a memory-mapped file is aligned as the file places it (at least to a
/// Float; the kernels load and store unaligned).
public final class TensorStorage: @unchecked Sendable {
    /// Number of Float32 elements.
    public let count: Int
    /// Start of the buffer. Valid for `count` elements while the storage lives.
    public let pointer: UnsafeMutablePointer<Float>

    /// Bytes of a mapping made by ``LargeBuffer`` (0: the buffer came from malloc).
    private let mappedBytes: Int
    /// The allocation measurement running when this storage was made, told when it is freed.
    private let measurement: TensorAllocations?
    /// What keeps a borrowed buffer valid (a mapped file); nil when this storage allocated it.
    private let owner: AnyObject?

    /// Allocates uninitialized storage for `count` elements.
    public init(count: Int) {
        precondition(count >= 0, "storage count must be non-negative, got \(count)")
        _ = Threading.count  // configures the allocator and BLAS once, before the first buffer
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        owner = nil
        if let mapped = LargeBuffer.map(bytes: bytes) {
            mappedBytes = mapped.bytes
            pointer = mapped.pointer.bindMemory(to: Float.self, capacity: max(count, 1))
        } else {
            mappedBytes = 0
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(to: Float.self, capacity: max(count, 1))
        }
        TensorMemory.allocated(bytes)
        measurement = TensorMemory.measurement
        measurement?.allocated(bytes)
    }

    /// Storage over `count` (≥ 1) elements at `pointer`, which `owner` keeps valid for as long
    /// as it lives (a privately mapped file): nothing is allocated, and the buffer is not freed
    /// with the storage. Writes stay private to the process. Counted as tensor memory.
    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        precondition(count >= 1, "borrowed storage needs at least one element, got \(count)")
        self.count = count
        self.pointer = pointer
        self.owner = owner
        mappedBytes = 0
        TensorMemory.allocated(count * MemoryLayout<Float>.stride)
        measurement = TensorMemory.measurement
        measurement?.allocated(count * MemoryLayout<Float>.stride)
    }

    deinit {
        TensorMemory.freed(max(count, 1) * MemoryLayout<Float>.stride)
        measurement?.freed(max(count, 1) * MemoryLayout<Float>.stride)
        if owner != nil { return }
        if mappedBytes > 0 { LargeBuffer.unmap(pointer, bytes: mappedBytes) } else { pointer.deallocate() }
    }
}

/// An N-dimensional, row-major, contiguous Float32 tensor.
///
/// `Tensor` is a value: copies share storage until one of them is mutated (copy-on-write).
/// A tensor that takes part in gradient recording carries a node of the autodiff graph;
/// see ``Tensor/requiringGradient()`` and ``valueAndGradient(at:of:)``.
public struct Tensor: @unchecked Sendable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage
    var node: GradientNode?

    init(shape: [Int], storage: TensorStorage) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match \(storage.count) elements")
        self.shape = shape
        self.storage = storage
        self.node = nil
    }

    /// An uninitialized tensor: callers must write every element.
    init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *)))
    }

    /// A tensor holding `scalars` in row-major order.
    public init(_ scalars: [Float], shape: [Int]) {
        let count = shape.reduce(1, *)
        precondition(scalars.count == count, "\(scalars.count) scalars do not fill shape \(shape)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { source in
            if count > 0 { storage.pointer.update(from: source.baseAddress!, count: count) }
        }
    }

    /// A one-dimensional tensor holding `scalars`.
    public init(_ scalars: [Float]) { self.init(scalars, shape: [scalars.count]) }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) { self.init([scalar], shape: []) }

    /// A tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        storage.pointer.update(repeating: value, count: storage.count)
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { storage.count }
    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The single element of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() needs exactly one element, shape is \(shape)")
        return storage.pointer[0]
    }

    /// The element at a multi-dimensional index.
    public subscript(index: Int...) -> Float {
        precondition(index.count == rank, "index \(index) does not match shape \(shape)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "index \(index) out of range for shape \(shape)")
            offset = offset * shape[axis] + i
        }
        return storage.pointer[offset]
    }

    /// Calls `body` with the elements; the buffer is valid only inside `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Calls `body` with mutable elements, copying shared storage first (copy-on-write).
    /// The tensor leaves the gradient graph: in-place writes are not differentiable.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(count: count)
            copy.pointer.update(from: storage.pointer, count: count)
            storage = copy
        }
        node = nil
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// The same values, cut off from the gradient graph.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Whether two tensors share storage (used by tests of copy-on-write).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// Element count of a shape.
@inline(__always) func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major strides of a contiguous shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// Resolves a possibly negative axis against a rank.
@inline(__always) func normalizeAxis(_ axis: Int, rank: Int) -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    precondition(resolved >= 0 && resolved < Swift.max(rank, 1), "axis \(axis) out of range for rank \(rank)")
    return resolved
}
