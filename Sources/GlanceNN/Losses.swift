import Foundation
import GlanceCore

/// Mean cross-entropy between `logits` [..., classes] and integer `targets` (one per row).
///
/// Rows whose target equals `ignoreIndex` count neither in the loss nor in the mean.
/// `labelSmoothing` ε mixes the one-hot target with the uniform distribution:
/// loss = (1 − ε)·(−log p_target) + ε·mean_c(−log p_c), as in PyTorch.
/// Fused: one pass computes the loss and keeps the softmax for the backward pass.
public func crossEntropy(logits: Tensor, targets: [Int], ignoreIndex: Int? = nil, labelSmoothing: Float = 0) -> Tensor {
    let classes = logits.shape.last!
    let rows = logits.count / classes
    precondition(targets.count == rows, "cross-entropy got \(targets.count) targets for \(rows) rows of logits \(logits.shape)")
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "label smoothing must be in [0, 1], got \(labelSmoothing)")
    for target in targets where target != ignoreIndex {
        precondition(target >= 0 && target < classes, "target \(target) out of range for \(classes) classes")
    }
    var rowLosses = [Float](repeating: 0, count: rows)
    let probabilities = logits.withUnsafeBufferPointer { source in
        Tensor(shape: [rows, classes]) { out in
            out.baseAddress!.update(from: source.baseAddress!, count: rows * classes)
            let o = SendablePointer(out.baseAddress!), x = SendablePointer(UnsafeMutablePointer(mutating: source.baseAddress!))
            rowLosses.withUnsafeMutableBufferPointer { lossBuffer in
                let losses = SendablePointer(lossBuffer.baseAddress!)
                targets.withUnsafeBufferPointer { targetBuffer in
                    let t = SendablePointer(UnsafeMutablePointer(mutating: targetBuffer.baseAddress!))
                    parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                        for r in range {
                            let normalizer = softmaxRowInPlace(o.base + r * classes, classes)
                            let target = t.base[r]
                            if target == ignoreIndex { losses.base[r] = 0; continue }
                            let row = x.base + r * classes
                            var loss = (1 - labelSmoothing) * (normalizer - row[target])
                            if labelSmoothing > 0 { loss += labelSmoothing * (normalizer - vectorSum(row, classes) / Float(classes)) }
                            losses.base[r] = loss
                        }
                    }
                }
            }
        }
    }
    let counted = targets.filter { $0 != ignoreIndex }.count
    let denominator = Float(Swift.max(counted, 1))
    let loss = Tensor(scalar: rowLosses.reduce(0, +) / denominator)
    let shape = logits.shape
    return loss.recorded(from: [logits]) { g in
        let scale = g.item() / denominator
        return [Tensor(shape: shape) { dx in
            probabilities.withUnsafeBufferPointer { p in
                targets.withUnsafeBufferPointer { targetBuffer in
                    let output = SendablePointer(dx.baseAddress!), probability = SendablePointer(p.baseAddress!)
                    let target = SendablePointer(targetBuffer.baseAddress!)
                    let smooth = FloatVector(repeating: labelSmoothing / Float(classes)), factor = FloatVector(repeating: scale)
                    parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                        for r in range {
                            let out = output.base + r * classes, row = probability.base + r * classes
                            if target.base[r] == ignoreIndex { out.update(repeating: 0, count: classes); continue }
                            var c = 0
                            while c + 16 <= classes {
                                storeVector(factor * (loadVector(row + c) - smooth), out + c)
                                c += 16
                            }
                            while c < classes { out[c] = scale * (row[c] - smooth[0]); c += 1 }
                            out[target.base[r]] -= scale * (1 - labelSmoothing)
                        }
                    }
                }
            }
        }]
    }
}

/// Mean squared error.
public func meanSquaredError(predictions: Tensor, targets: Tensor) -> Tensor {
    precondition(predictions.shape == targets.shape, "MSE shapes differ: \(predictions.shape) and \(targets.shape)")
    return (predictions - targets).squared().mean()
}
