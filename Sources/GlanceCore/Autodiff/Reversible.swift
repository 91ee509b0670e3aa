/// One layer of a reversible residual stack (Gomez et al. 2017; Reformer): from the pair
/// (x1, x2) it computes y1 = x1 + f(x2), y2 = x2 + g(y1). Both functions must be
/// deterministic (the backward pass runs them again), for instance by reseeding dropout.
public struct ReversibleLayer {
    public let f: (Tensor) -> Tensor
    public let g: (Tensor) -> Tensor
    /// Tensors that `f` and `g` read besides their argument (the layer's weights): they
    /// receive their gradients during the backward pass.
    public let parameters: [Tensor]

    public init(parameters: [Tensor], f: @escaping (Tensor) -> Tensor, g: @escaping (Tensor) -> Tensor) {
        self.f = f
        self.g = g
        self.parameters = parameters
    }
}

/// Runs `layers` on the two halves of `input` along its last axis, (x1, x2), and returns
/// [y1, y2] concatenated the same way, as Hugging Face's `ReformerEncoder` does on the
/// duplicated hidden states.
///
/// No activation of the stack is kept: the backward pass rebuilds each layer's inputs from
/// its outputs (x2 = y2 − g(y1), x1 = y1 − f(x2)), recomputing f and g with recording on to
/// differentiate them, so activation memory does not grow with depth. Reconstruction is
/// exact up to float rounding.
public func reversibleResidualStack(_ input: Tensor, layers: [ReversibleLayer]) -> Tensor {
    let axis = input.rank - 1
    let width = input.shape[axis]
    precondition(input.rank >= 1 && width % 2 == 0, "a reversible stack splits the last axis in two halves, got shape \(input.shape)")
    let half = width / 2
    func halves(_ t: Tensor) -> (Tensor, Tensor) { (t.sliced(alongAxis: axis, 0..<half), t.sliced(alongAxis: axis, half..<width)) }
    let output = withoutGradients {
        var (y1, y2) = halves(input.detached())
        for layer in layers {
            y1 = y1 + layer.f(y2)
            y2 = y2 + layer.g(y1)
        }
        return concatenate([y1, y2], alongAxis: axis)
    }
    let parameters = layers.flatMap(\.parameters)
    let wantsInput = input.requiresGradient
    return output.recorded(from: [input] + parameters) { gradient in
        var (y1, y2) = halves(output)
        var (dy1, dy2) = halves(gradient)
        for layer in layers.reversed() {
            // y2 = x2 + g(y1): rebuild x2; g's weights get dy2, y1 gets gᵀ·dy2 on top of dy1.
            let y1Leaf = y1.requiringGradient()
            let gOutput = withGradients { layer.g(y1Leaf) }
            let x2 = y2 - gOutput.detached()
            dy1 = dy1 + gradients(of: gOutput, seed: dy2, withRespectTo: [y1Leaf])[0]
            // y1 = x1 + f(x2): rebuild x1; f's weights get dy1, x2 gets fᵀ·dy1 on top of dy2.
            let x2Leaf = x2.requiringGradient()
            let fOutput = withGradients { layer.f(x2Leaf) }
            let x1 = y1 - fOutput.detached()
            dy2 = dy2 + gradients(of: fOutput, seed: dy1, withRespectTo: [x2Leaf])[0]
            (y1, y2) = (x1, x2)
        }
        return [wantsInput ? concatenate([dy1, dy2], alongAxis: axis) : nil] + parameters.map { _ in nil }
    }
}

/// The computation of ``reversibleResidualStack(_:layers:)`` with every activation kept for
/// an ordinary backward pass: the reference its gradients are checked against, and the
/// baseline of its memory saving.
public func storedResidualStack(_ input: Tensor, layers: [ReversibleLayer]) -> Tensor {
    let axis = input.rank - 1, half = input.shape[axis] / 2
    precondition(input.rank >= 1 && input.shape[axis] % 2 == 0, "a reversible stack splits the last axis in two halves, got shape \(input.shape)")
    var y1 = input.sliced(alongAxis: axis, 0..<half), y2 = input.sliced(alongAxis: axis, half..<(2 * half))
    for layer in layers {
        y1 = y1 + layer.f(y2)
        y2 = y2 + layer.g(y1)
    }
    return concatenate([y1, y2], alongAxis: axis)
}
