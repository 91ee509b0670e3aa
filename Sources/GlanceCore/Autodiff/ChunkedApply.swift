/// Applies a position-wise function `body` to `input` `chunkLength` positions at a time along
/// `axis` and concatenates the results: Reformer's chunked feed-forward (Hugging Face's
/// `chunk_size_feed_forward`).
///
/// The backward pass recomputes one chunk at a time (gradient checkpointing), so only one
/// chunk's intermediates (a feed-forward's [chunk, 4d] hidden layer, say) are alive at a time,
/// in the forward pass and in the backward pass; each chunk's input gradient is written into
/// one input-sized buffer. `body` must act on each position independently and
/// deterministically; `parameters` are the tensors it reads besides its argument, which get
/// their gradients during the backward pass. The result equals `body(input)`.
public func chunkedApply(_ input: Tensor, chunkLength: Int, alongAxis axis: Int, parameters: [Tensor],
                         _ body: @escaping (Tensor) -> Tensor) -> Tensor {
    precondition(chunkLength >= 1, "chunkLength must be at least 1, got \(chunkLength)")
    let axis = axis < 0 ? axis + input.rank : axis
    let length = input.shape[axis]
    guard length > chunkLength else { return body(input) }
    let chunks = stride(from: 0, to: length, by: chunkLength).map {
        GradientRegion(axis: axis, start: $0, step: 1, count: Swift.min(chunkLength, length - $0))
    }
    let x = input.detached()
    func part(_ t: Tensor, _ chunk: GradientRegion) -> Tensor { t.sliced(alongAxis: axis, chunk.start..<(chunk.start + chunk.count)) }
    let output = withoutGradients { concatenate(chunks.map { body(part(x, $0)) }, alongAxis: axis) }
    let wantsInput = input.requiresGradient
    return output.recorded(from: [input] + parameters) { g in
        var inputGradient = wantsInput ? Tensor(shape: x.shape, repeating: 0) : nil
        for chunk in chunks {
            let gradient = recomputedGradients(of: { body($0[0]) }, at: [part(x, chunk)], wanted: [wantsInput], seed: part(g, chunk))[0]
            if let gradient { inputGradient!.addInPlace(gradient, at: chunk) }
        }
        return [inputGradient] + parameters.map { _ in nil }
    }
}
