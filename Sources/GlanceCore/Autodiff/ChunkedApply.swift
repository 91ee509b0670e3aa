/// Applies a position-wise function `body` to `input` `chunkLength` positions at a time along
/// `axis` and concatenates the results: Reformer's chunked feed-forward (Hugging Face's
/// `chunk_size_feed_forward`).
///
/// Each chunk goes through ``recomputingInBackward(_:parameters:_:)``, so only one chunk's
/// intermediates (a feed-forward's [chunk, 4d] hidden layer, say) are alive at a time, in the
/// forward pass and in the backward pass. `body` must act on each position independently and
/// deterministically; `parameters` are the tensors it reads besides its argument, which get
/// their gradients during the backward pass. The result equals `body(input)`.
public func chunkedApply(_ input: Tensor, chunkLength: Int, alongAxis axis: Int, parameters: [Tensor],
                         _ body: @escaping (Tensor) -> Tensor) -> Tensor {
    precondition(chunkLength >= 1, "chunkLength must be at least 1, got \(chunkLength)")
    let axis = axis < 0 ? axis + input.rank : axis
    let length = input.shape[axis]
    guard length > chunkLength else { return body(input) }
    let chunks = stride(from: 0, to: length, by: chunkLength).map { start in
        recomputingInBackward([input.sliced(alongAxis: axis, start..<Swift.min(start + chunkLength, length))], parameters: parameters) {
            body($0[0])
        }
    }
    return concatenate(chunks, alongAxis: axis)
}
