import GlanceCore

/// A label-smoothed cross-entropy and the plain negative log-likelihood of the same rows.
public struct LabelSmoothedLoss {
    /// The mean smoothed loss over the counted rows, recorded for gradients.
    public let loss: Tensor
    /// The mean −log p(target) over the counted rows (for perplexity), not recorded.
    public let negativeLogLikelihood: Float
    /// Rows counted (targets other than the ignored index).
    public let count: Int
}

/// fairseq's `label_smoothed_cross_entropy` (`label_smoothed_nll_loss`) of `logits`
/// [..., classes] against integer `targets`, one per row, averaged over the rows whose target
/// is not `ignoreIndex` (fairseq sums and divides by the token count when it normalizes the
/// gradient: the same).
///
/// With ε = `epsilon` and V classes, the target gets probability 1 − ε and every other class
/// ε/(V − 1): loss = (1 − ε − ε/(V−1))·(−log p_target) + ε/(V−1)·Σ_c(−log p_c). (PyTorch's
/// `label_smoothing`, in ``crossEntropy(logits:targets:ignoreIndex:labelSmoothing:)``, gives
/// ε/V to every class instead.) Fused: one pass computes the loss and keeps the softmax; the
/// hand-written backward is (p − q)/count.
public func labelSmoothedCrossEntropy(logits: Tensor, targets: [Int], epsilon: Float, ignoreIndex: Int? = nil) -> LabelSmoothedLoss {
    let classes = logits.shape.last!
    let rows = logits.count / classes
    precondition(classes >= 2, "label-smoothed cross-entropy needs at least 2 classes, got logits \(logits.shape)")
    precondition(targets.count == rows, "label-smoothed cross-entropy got \(targets.count) targets for \(rows) rows of logits \(logits.shape)")
    precondition(epsilon >= 0 && epsilon < 1, "label smoothing ε must be in [0, 1), got \(epsilon)")
    for target in targets where target != ignoreIndex {
        precondition(target >= 0 && target < classes, "target \(target) out of range for \(classes) classes")
    }
    let other = epsilon / Float(classes - 1), targetWeight = 1 - epsilon
    var rowLosses = [Float](repeating: 0, count: rows), rowLikelihoods = [Float](repeating: 0, count: rows)
    let probabilities = logits.withUnsafeBufferPointer { source in
        Tensor(shape: [rows, classes]) { out in
            out.baseAddress!.update(from: source.baseAddress!, count: rows * classes)
            let p = SendablePointer(out.baseAddress!), x = SendablePointer(source.baseAddress!)
            rowLosses.withUnsafeMutableBufferPointer { lossBuffer in
                rowLikelihoods.withUnsafeMutableBufferPointer { likelihoodBuffer in
                    let losses = SendablePointer(lossBuffer.baseAddress!), likelihoods = SendablePointer(likelihoodBuffer.baseAddress!)
                    targets.withUnsafeBufferPointer { targetBuffer in
                        let t = SendablePointer(targetBuffer.baseAddress!)
                        parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                            for r in range {
                                let logSumExp = softmaxRowInPlace(p.base + r * classes, classes)
                                let target = t.base[r]
                                if target == ignoreIndex { continue }
                                let row = x.base + r * classes
                                let nll = logSumExp - row[target]
                                let smooth = Float(classes) * logSumExp - vectorSum(row, classes)
                                losses.base[r] = (targetWeight - other) * nll + other * smooth
                                likelihoods.base[r] = nll
                            }
                        }
                    }
                }
            }
        }
    }
    let count = targets.filter { $0 != ignoreIndex }.count
    let denominator = Float(Swift.max(count, 1))
    let loss = Tensor(scalar: rowLosses.reduce(0, +) / denominator)
    let shape = logits.shape
    let recorded = loss.recorded(from: [logits]) { g in
        let scale = g.item() / denominator
        return [Tensor(shape: shape) { dx in
            probabilities.withUnsafeBufferPointer { probabilityBuffer in
                let p = SendablePointer(probabilityBuffer.baseAddress!), d = SendablePointer(dx.baseAddress!)
                targets.withUnsafeBufferPointer { targetBuffer in
                    let t = SendablePointer(targetBuffer.baseAddress!)
                    parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                        for r in range {
                            let out = d.base + r * classes, row = p.base + r * classes, target = t.base[r]
                            if target == ignoreIndex { out.update(repeating: 0, count: classes); continue }
                            for c in 0..<classes { out[c] = scale * (row[c] - other) }
                            out[target] = scale * (row[target] - targetWeight)
                        }
                    }
                }
            }
        }]
    }
    return LabelSmoothedLoss(loss: recorded, negativeLogLikelihood: rowLikelihoods.reduce(0, +) / denominator, count: count)
}
