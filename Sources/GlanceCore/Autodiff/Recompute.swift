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
        let leaves = zip(detachedInputs, wantsInput).map { input, wanted in wanted ? input.requiringGradient() : input }
        let recomputed = withGradients { function(leaves) }
        let inputGradients = gradients(of: recomputed, seed: g, withRespectTo: leaves)
        return zip(inputGradients, wantsInput).map { gradient, wanted in wanted ? gradient : nil }
            + parameters.map { _ in nil }
    }
}
