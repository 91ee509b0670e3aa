/// One recorded operation of the reverse-mode graph.
///
/// A node knows the nodes of its inputs (`parents`) and a closure that maps the gradient of
/// its output to gradients of those inputs. Nodes point only to their parents, so the graph
/// is freed as soon as the tensors of the forward pass and the backward walk are done with it.
final class GradientNode: @unchecked Sendable {
    var parents: [GradientNode?]
    /// For each parent, the region its gradient covers (nil: all of it); empty when none is partial.
    var parentRegions: [GradientRegion?]
    var backward: ((Tensor) -> [Tensor?])?
    /// Gradient accumulated so far (during a backward walk, or kept on a leaf).
    var gradient: Tensor?
    let shape: [Int]
    /// Leaves keep their accumulated gradient after a walk; inner nodes drop it.
    let isLeaf: Bool

    /// A leaf: a tensor whose gradient is wanted.
    init(leafShape: [Int]) {
        parents = []
        parentRegions = []
        backward = nil
        shape = leafShape
        isLeaf = true
    }

    init(parents: [GradientNode?], regions: [GradientRegion?] = [], shape: [Int], backward: @escaping (Tensor) -> [Tensor?]) {
        precondition(regions.isEmpty || regions.count == parents.count, "\(regions.count) gradient regions for \(parents.count) inputs")
        self.parents = parents
        parentRegions = regions
        self.backward = backward
        self.shape = shape
        isLeaf = false
    }

    func accumulate(_ incoming: Tensor) {
        precondition(incoming.shape == shape, "gradient of shape \(incoming.shape) for a tensor of shape \(shape)")
        if var existing = gradient {
            // Add in place: the accumulated gradient belongs to this node alone.
            gradient = nil
            existing.addInPlace(incoming)
            gradient = existing
        } else {
            gradient = incoming.detached()
        }
    }

    /// Adds the gradient of one region of this node's tensor: the first partial gradient
    /// allocates the full buffer (zeros), later ones add into it in place.
    func accumulate(_ incoming: Tensor, into region: GradientRegion?) {
        guard let region else { return accumulate(incoming) }
        var buffer = gradient ?? Tensor(shape: shape, repeating: 0)
        gradient = nil  // the buffer belongs to this node alone: add in place
        buffer.addInPlace(incoming, at: region)
        gradient = buffer
    }
}

/// Whether operations record the gradient graph in the current task.
public enum GradientMode {
    @TaskLocal static var isEnabled = true

    /// Whether operations run now would be recorded.
    public static var isRecording: Bool { isEnabled }
}

/// Runs `body` without recording gradients (inference, evaluation, in-place updates).
public func withoutGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientMode.$isEnabled.withValue(false) { try body() }
}

/// Runs `body` with gradient recording on, even inside ``withoutGradients(_:)``.
/// Backward passes that recompute their forward use this.
public func withGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientMode.$isEnabled.withValue(true) { try body() }
}

extension Tensor {
    /// Whether this tensor is part of a gradient graph.
    public var requiresGradient: Bool { node != nil }

    /// A copy of this tensor that is a leaf of the gradient graph: operations on it are
    /// recorded, and ``gradients(of:withRespectTo:)`` can return its gradient.
    public func requiringGradient() -> Tensor {
        var leaf = detached()
        leaf.node = GradientNode(leafShape: shape)
        return leaf
    }

    /// Attaches a backward rule to a freshly computed result.
    ///
    /// `self` is the result of a kernel; `inputs` are the operation's operands; `backward`
    /// maps the output gradient to one gradient per input (nil where none is needed). The
    /// closure must not capture the returned tensor, only `self` before recording.
    /// Nothing is recorded when gradients are off or no input requires one.
    public func recorded(from inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        var result = self
        result.node = GradientNode(parents: inputs.map(\.node), shape: shape, backward: backward)
        return result
    }

    /// Attaches the backward rule of an operation that reads only `region` of `input`:
    /// `backward` maps the output gradient to the gradient of that region, which is added
    /// into the input's gradient in place (see ``GradientRegion``).
    func recorded(fromRegion region: GradientRegion, of input: Tensor, backward: @escaping (Tensor) -> Tensor) -> Tensor {
        guard GradientMode.isEnabled, input.node != nil else { return self }
        var result = self
        result.node = GradientNode(parents: [input.node], regions: [region], shape: shape) { [backward($0)] }
        return result
    }
}

/// Reverse-mode differentiation of a scalar `loss` (or of any output, given the gradient
/// `seed` flowing into it).
///
/// Returns the gradient of `loss` with respect to each of `inputs` (zeros where `loss` does
/// not depend on it). The graph behind `loss` is consumed: its closures are released as the
/// walk passes them, so memory held by the forward pass is freed. Other leaves reached by the
/// walk (parameters) keep their accumulated gradient until read with ``Tensor/takeGradient()``.
public func gradients(of loss: Tensor, seed: Tensor? = nil, withRespectTo inputs: [Tensor]) -> [Tensor] {
    precondition(seed != nil || loss.count == 1, "gradients(of:) needs a scalar loss or a seed, got shape \(loss.shape)")
    precondition(seed.map { $0.shape == loss.shape } ?? true, "seed of shape \(seed!.shape) for an output of shape \(loss.shape)")
    let wanted = inputs.map { input -> GradientNode? in input.node }
    guard let root = loss.node else {
        return inputs.map { Tensor(shape: $0.shape, repeating: 0) }
    }
    backpropagate(from: root, seed: seed?.detached() ?? Tensor(shape: loss.shape, repeating: 1),
                  keeping: Set(wanted.compactMap { $0.map(ObjectIdentifier.init) }))
    return zip(inputs, wanted).map { input, node in
        defer { node?.gradient = nil }
        return node?.gradient ?? Tensor(shape: input.shape, repeating: 0)
    }
}

/// Walks the graph below `root` in reverse topological order.
func backpropagate(from root: GradientNode, seed: Tensor, keeping kept: Set<ObjectIdentifier>) {
    // Iterative post-order DFS: deep models must not overflow the stack.
    var order: [GradientNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradientNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
        if next < node.parents.count {
            stack.append((node, next + 1))
            if let parent = node.parents[next], visited.insert(ObjectIdentifier(parent)).inserted {
                stack.append((parent, 0))
            }
        } else {
            order.append(node)
        }
    }
    root.accumulate(seed)
    withoutGradients {
        for node in order.reversed() {
            guard let gradient = node.gradient else {
                node.backward = nil
                node.parents = []
                node.parentRegions = []
                continue
            }
            if let backward = node.backward {
                let parentGradients = backward(gradient)
                precondition(parentGradients.count == node.parents.count, "backward returned \(parentGradients.count) gradients for \(node.parents.count) inputs")
                for (index, (parent, parentGradient)) in zip(node.parents, parentGradients).enumerated() {
                    if let parent, let parentGradient { parent.accumulate(parentGradient, into: node.parentRegions.isEmpty ? nil : node.parentRegions[index]) }
                }
            }
            node.backward = nil
            node.parents = []
            node.parentRegions = []
            if !node.isLeaf && !kept.contains(ObjectIdentifier(node)) { node.gradient = nil }
        }
    }
}

/// The value of `function` at `points` and its gradient with respect to each point.
/// `function` must return a scalar.
public func valueAndGradient(at points: [Tensor], of function: ([Tensor]) -> Tensor) -> (value: Tensor, gradients: [Tensor]) {
    let leaves = points.map { $0.requiringGradient() }
    let value = withGradients { function(leaves) }
    let grads = gradients(of: value, withRespectTo: leaves)
    return (value.detached(), grads)
}

extension Tensor {
    /// The gradient accumulated on this leaf by earlier walks, cleared as it is read.
    public func takeGradient() -> Tensor? {
        guard let node, node.isLeaf else { return nil }
        defer { node.gradient = nil }
        return node.gradient
    }
}
