/// Applies a position-wise function `body` to `input` `chunkLength` positions at a time along
/// `axis` and concatenates the results: Reformer's chunked feed-forward (Hugging Face's
/// `chunk_size_feed_forward`).
///
/// Only one chunk's intermediates (a feed-forward's [chunk, 4d] hidden layer, say) are alive at
/// a time, in the forward pass and in the backward pass, which recomputes each chunk with
/// recording on and differentiates it alone. `body` must act on each position independently and
/// deterministically; `parameters` are the tensors it reads besides its argument, which get
/// their gradients during the backward pass. The result equals `body(input)`.
public func chunkedApply(_ input: Tensor, chunkLength: Int, alongAxis axis: Int, parameters: [Tensor],
                         _ body: @escaping (Tensor) -> Tensor) -> Tensor {
    precondition(chunkLength >= 1, "chunkLength must be at least 1, got \(chunkLength)")
    let axis = axis < 0 ? axis + input.rank : axis
    let length = input.shape[axis]
    guard length > chunkLength else { return body(input) }
    let chunks = stride(from: 0, to: length, by: chunkLength).map { $0..<Swift.min($0 + chunkLength, length) }
    let output = withoutGradients {
        concatenate(chunks.map { body(input.detached().sliced(alongAxis: axis, $0)) }, alongAxis: axis)
    }
    let source = input.detached()
    let wantsInput = input.requiresGradient
    return output.recorded(from: [input] + parameters) { gradient in
        var inputGradients: [Tensor] = []
        for range in chunks {
            let leaf = source.sliced(alongAxis: axis, range).requiringGradient()
            let chunkOutput = withGradients { body(leaf) }
            inputGradients.append(gradients(of: chunkOutput, seed: gradient.sliced(alongAxis: axis, range), withRespectTo: [leaf])[0])
        }
        return [wantsInput ? concatenate(inputGradients, alongAxis: axis) : nil] + parameters.map { _ in nil }
    }
}
