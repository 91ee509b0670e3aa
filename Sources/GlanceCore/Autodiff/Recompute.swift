/// Evaluates `function` without keeping its intermediate activations: the backward pass
/// runs it again with recording on and differentiates that second run (gradient
/// checkpointing). Memory then holds only `inputs` and the output.
///
/// `parameters` lists tensors that `function` reads besides `inputs` (a layer's weights):
/// they receive their gradients during the recomputation, and naming them ensures the
/// operation is recorded even when no input needs a gradient.
public func recomputingInBackward(_ inputs: [Tensor], parameters: [Tensor] = [],
                                  _ function: @escaping ([Tensor]) -> Tensor) -> Tensor {
    let detachedInputs = inputs.map { $0.detached() }
    let output = withoutGradients { function(detachedInputs) }
    let wantsInput = inputs.map(\.requiresGradient)
    return output.recorded(from: inputs + parameters) { g in
        recomputedGradients(of: function, at: detachedInputs, wanted: wantsInput, seed: g) + parameters.map { _ in nil }
    }
}

/// Runs `function` on `inputs` again with recording on and back-propagates `seed` (the
/// gradient of its output) through that run. Returns the gradients of the inputs marked in
/// `wanted` (nil for the others); parameters that `function` reads receive theirs on their
/// own leaves.
func recomputedGradients(of function: ([Tensor]) -> Tensor, at inputs: [Tensor], wanted: [Bool], seed: Tensor) -> [Tensor?] {
    let leaves = zip(inputs, wanted).map { input, wanted in wanted ? input.requiringGradient() : input }
    let recomputed = withGradients { function(leaves) }
    var found = gradients(of: recomputed, seed: seed, withRespectTo: leaves.filter(\.requiresGradient)).makeIterator()
    return wanted.map { $0 ? found.next() : nil }
}
