import Foundation
import GlanceCore

/// How ``ctcLoss(logProbabilities:labels:inputLengths:blank:reduction:zeroInfinity:)`` combines
/// the per-sequence losses, as PyTorch's `reduction`.
public enum CTCReduction: String, Sendable, CaseIterable {
    /// One loss per sequence, shape [batch].
    case none
    /// Each loss divided by its label length (at least 1), then the batch mean.
    case mean
    /// The sum of the losses.
    case sum
}

/// CTC inputs that cannot be scored; names the batch entry and the field.
public struct CTCLossError: Error, CustomStringConvertible, Equatable {
    public let batchIndex: Int
    public let field: String
    public let reason: String

    public var description: String { "CTC loss, batch entry \(batchIndex): \(field) \(reason)" }
}

/// Connectionist temporal classification loss −log p(labels | x) of log-probabilities
/// [batch, frames, classes] (rows of a log-softmax), summed over all alignments by the
/// log-space forward (α) and backward (β) recursions in Double: blanks may separate labels,
/// a label may repeat over frames, and two equal neighbouring labels need a blank between them.
/// Only the first `inputLengths[b]` frames of entry b count; its labels are `labels[b]`
/// (without blanks; may be empty).
///
/// A sequence is impossible when its frames are fewer than its labels plus its repeated
/// neighbours. With `zeroInfinity` its loss and gradient are 0 (PyTorch's `zero_infinity`);
/// without, this throws ``CTCLossError`` naming the entry rather than returning +∞ (PyTorch's
/// behaviour), since such a batch can only come from labels that do not fit their audio.
/// Labels outside the classes, labels equal to `blank` and lengths beyond the frames throw too.
///
/// The backward is the exact derivative with respect to the log-probabilities, −γ(t, c) (the
/// posterior of class c at frame t) times the reduction's weight, zero past each input length.
/// PyTorch returns exp(log p) − γ instead, which differs by a term that the backward of a
/// log-softmax removes: through a log-softmax both give the same gradient.
public func ctcLoss(logProbabilities: Tensor, labels: [[Int]], inputLengths: [Int], blank: Int = 0,
                    reduction: CTCReduction = .mean, zeroInfinity: Bool = false) throws -> Tensor {
    precondition(logProbabilities.rank == 3, "CTC loss takes log-probabilities [batch, frames, classes], got \(logProbabilities.shape)")
    let batch = logProbabilities.shape[0], frames = logProbabilities.shape[1], classes = logProbabilities.shape[2]
    precondition(labels.count == batch && inputLengths.count == batch,
                 "CTC loss got \(labels.count) label sequences and \(inputLengths.count) input lengths for a batch of \(batch)")
    precondition(blank >= 0 && blank < classes, "CTC blank \(blank) outside \(classes) classes")
    for b in 0..<batch {
        func invalid(_ field: String, _ reason: String) -> CTCLossError { CTCLossError(batchIndex: b, field: field, reason: reason) }
        guard inputLengths[b] >= 0 && inputLengths[b] <= frames else {
            throw invalid("input length", "is \(inputLengths[b]), outside 0…\(frames) frames")
        }
        if let label = labels[b].first(where: { $0 < 0 || $0 >= classes || $0 == blank }) {
            throw invalid("labels", "hold \(label): labels must be classes in 0..<\(classes) other than the blank (\(blank))")
        }
        let needed = ctcMinimumFrames(labels[b])
        if needed > inputLengths[b] && !zeroInfinity {
            throw invalid("labels", "need at least \(needed) frames (\(labels[b].count) labels and \(needed - labels[b].count) repeated neighbours) "
                            + "but the input has \(inputLengths[b]); the transcript is too long for its audio (or set zero_infinity)")
        }
    }
    let weights = labels.map { label -> Double in
        switch reduction {
        case .none, .sum: 1
        case .mean: 1 / Double(batch * Swift.max(label.count, 1))
        }
    }
    let recording = GradientMode.isRecording && logProbabilities.requiresGradient
    var losses = [Double](repeating: 0, count: batch)
    var gradient = recording ? Tensor.zeros([batch, frames, classes]) : Tensor.zeros([0])
    logProbabilities.withUnsafeBufferPointer { input in
        gradient.withUnsafeMutableBufferPointer { gradientBuffer in
            losses.withUnsafeMutableBufferPointer { lossBuffer in
                let x = SendablePointer(input.baseAddress!), l = SendablePointer(lossBuffer.baseAddress!)
                let g = recording ? SendablePointer(gradientBuffer.baseAddress!) : nil
                parallelFor(batch) { range in
                    for b in range {
                        var sequence = CTCSequence(labels: labels[b], blank: blank, frames: inputLengths[b], classes: classes,
                                                   logProbabilities: x.base + b * frames * classes)
                        let logLikelihood = sequence.forward()
                        guard logLikelihood > -.infinity else { l.base[b] = zeroInfinity ? 0 : .infinity; continue }
                        l.base[b] = -logLikelihood
                        if let g { sequence.addGradient(into: g.base + b * frames * classes, logLikelihood: logLikelihood, scale: -weights[b]) }
                    }
                }
            }
        }
    }
    let value: Tensor
    switch reduction {
    case .none: value = Tensor(losses.map(Float.init), shape: [batch])
    case .mean, .sum: value = Tensor(scalar: Float(zip(losses, weights).reduce(0) { $0 + $1.0 * $1.1 }))
    }
    guard recording else { return value }
    return value.recorded(from: [logProbabilities]) { upstream in
        let scales = reduction == .none ? upstream.scalars : [Float](repeating: upstream.item(), count: batch)
        return [Tensor(shape: [batch, frames, classes]) { out in
            gradient.withUnsafeBufferPointer { source in
                for b in 0..<batch {
                    let block = frames * classes, offset = b * block
                    for i in 0..<block { out[offset + i] = source[offset + i] * scales[b] }
                }
            }
        }]
    }
}

/// Frames that a label sequence needs at least: one per label, plus a blank between equal neighbours.
public func ctcMinimumFrames(_ labels: [Int]) -> Int {
    labels.count + zip(labels, labels.dropFirst()).filter { $0 == $1 }.count
}

/// The α/β lattice of one sequence over the extended labels (blank, l₁, blank, …, l_L, blank).
struct CTCSequence {
    let extended: [Int]
    let frames: Int
    let classes: Int
    let logProbabilities: UnsafeMutablePointer<Float>
    var alpha: [Double]

    init(labels: [Int], blank: Int, frames: Int, classes: Int, logProbabilities: UnsafeMutablePointer<Float>) {
        var extended = [blank]
        for label in labels { extended += [label, blank] }
        self.extended = extended
        self.frames = frames
        self.classes = classes
        self.logProbabilities = logProbabilities
        alpha = []
    }

    @inline(__always) func logProbability(_ t: Int, _ s: Int) -> Double { Double(logProbabilities[t * classes + extended[s]]) }

    /// Whether state s may be entered from s − 2 (a label that differs from the label before).
    @inline(__always) func canSkip(into s: Int) -> Bool { s >= 2 && extended[s] != extended[s - 2] }

    /// Fills α and returns log p(labels | x) (−∞ when no alignment fits).
    mutating func forward() -> Double {
        let states = extended.count
        guard frames > 0 else { return states == 1 ? 0 : -.infinity }
        alpha = [Double](repeating: -.infinity, count: frames * states)
        alpha[0] = logProbability(0, 0)
        if states > 1 { alpha[1] = logProbability(0, 1) }
        for t in 1..<frames {
            let previous = (t - 1) * states, current = t * states
            for s in 0..<states {
                var total = alpha[previous + s]
                if s >= 1 { total = logAddExp(total, alpha[previous + s - 1]) }
                if canSkip(into: s) { total = logAddExp(total, alpha[previous + s - 2]) }
                alpha[current + s] = total + logProbability(t, s)
            }
        }
        let last = (frames - 1) * states
        return logAddExp(alpha[last + states - 1], states > 1 ? alpha[last + states - 2] : -.infinity)
    }

    /// Adds `scale`·γ(t, c) to `gradient` [frames, classes] for the valid frames, with β
    /// computed backwards one frame at a time.
    func addGradient(into gradient: UnsafeMutablePointer<Float>, logLikelihood: Double, scale: Double) {
        let states = extended.count
        var beta = [Double](repeating: -.infinity, count: states), next = beta
        var occupancy = [Double](repeating: -.infinity, count: classes)
        for t in stride(from: frames - 1, through: 0, by: -1) {
            for s in 0..<states {
                var total: Double
                if t == frames - 1 {
                    total = s >= states - 2 ? 0 : -.infinity
                } else {
                    total = next[s]
                    if s + 1 < states { total = logAddExp(total, next[s + 1]) }
                    if s + 2 < states && canSkip(into: s + 2) { total = logAddExp(total, next[s + 2]) }
                }
                beta[s] = total + logProbability(t, s)
            }
            for c in 0..<classes { occupancy[c] = -.infinity }
            for s in 0..<states { occupancy[extended[s]] = logAddExp(occupancy[extended[s]], alpha[t * states + s] + beta[s]) }
            for c in 0..<classes where occupancy[c] > -.infinity {
                let posterior = Foundation.exp(occupancy[c] - Double(logProbabilities[t * classes + c]) - logLikelihood)
                gradient[t * classes + c] += Float(scale * posterior)
            }
            swap(&beta, &next)
        }
    }
}

/// log(eᵃ + eᵇ) without overflow; −∞ is the identity.
@inlinable public func logAddExp(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    return Swift.max(a, b) + Foundation.log1p(Foundation.exp(-Swift.abs(a - b)))
}
