import GlanceAttention

/// Floating-point operations of one ``ConformerBlock`` call on `batch` sequences of `length`
/// frames (a multiply-add counts two): the matrix products and the depthwise convolution; layer
/// norms, GLU, batch norm, Swish, softmax and residual sums are elementwise and left out.
///
/// - each half-step feed-forward: two products of 2·rows·d·hidden;
/// - the attention: its own count (``AttentionFlopCounting``; the encoder's
///   ``RelativePositionSelfAttention`` by ``relativePositionAttentionFlops(_:modelDimensions:width:distances:)``,
///   with the flash kernel's recomputation in the backward);
/// - the convolution module: pointwise d → 2d and d → d (2·rows·d·3d), depthwise 2·rows·d·K.
///
/// The backward of every product but the attention's takes two of the same size (input and
/// weight gradients): forward + backward is three times the forward there. Nil when the
/// attention has no count.
extension ConformerBlock {
    public func flops(batch: Int, length: Int) -> LayerFlops? {
        guard let attentionFlops = (attention as? AttentionFlopCounting)?.flops(for: AttentionWorkload(batch: batch, length: length))
        else { return nil }
        let d = Double(attention.modelDimensions), rows = Double(batch * length)
        let feedForwards = LayerFlops(forwardOnly: 2 * (2 * 2 * rows * d * Double(feedForward1.input.outputCount)))
        let convolutionFlops = convolution.map { module in
            LayerFlops(forwardOnly: 2 * rows * d * 3 * d + 2 * rows * d * Double(module.depthwise.kernelSize))
        } ?? LayerFlops(forward: 0, forwardAndBackward: 0)
        return feedForwards + attentionFlops + convolutionFlops
    }
}
