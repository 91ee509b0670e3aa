import GlanceCore

/// Raw pointers to the saved inputs of an attention kernel, its output gradient and the
/// gradients to fill, as handed to a hand-written backward.
struct AttentionBackwardBuffers {
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let outputGradient: UnsafePointer<Float>
    let dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
}

/// The gradients [dq, dk, dv] of an attention kernel with inputs q, k, v (shaped like them,
/// zero before `body` runs) from its output gradient `g`: `body` fills them through raw pointers.
func attentionGradients(q: Tensor, k: Tensor, v: Tensor, outputGradient g: Tensor,
                        _ body: (AttentionBackwardBuffers) -> Void) -> [Tensor?] {
    var dq = Tensor.zeros(q.shape), dk = Tensor.zeros(k.shape), dv = Tensor.zeros(v.shape)
    q.withUnsafeBufferPointer { qb in
        k.withUnsafeBufferPointer { kb in
            v.withUnsafeBufferPointer { vb in
                g.withUnsafeBufferPointer { gb in
                    dq.withUnsafeMutableBufferPointer { dqb in
                        dk.withUnsafeMutableBufferPointer { dkb in
                            dv.withUnsafeMutableBufferPointer { dvb in
                                body(AttentionBackwardBuffers(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!,
                                                              outputGradient: gb.baseAddress!, dq: dqb.baseAddress!,
                                                              dk: dkb.baseAddress!, dv: dvb.baseAddress!))
                            }
                        }
                    }
                }
            }
        }
    }
    return [dq, dk, dv]
}
