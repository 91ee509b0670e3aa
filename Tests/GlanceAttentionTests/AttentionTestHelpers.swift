import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Sizes of one attention problem: q [B, H, Nq, D], k [B, H, Nk, D], v [B, H, Nk, Dv].
struct AttentionCase: CustomStringConvertible, Sendable {
    var batch = 1
    var heads = 1
    var queries: Int
    var keys: Int
    var depth = 4
    var valueDepth = 4
    var causal = false
    var keyPadding: [[Bool]]? = nil
    /// A sparsity pattern: whether query i may see key j at all (nil: every key).
    var allowed: (@Sendable (_ query: Int, _ key: Int) -> Bool)? = nil

    var description: String {
        "B\(batch) H\(heads) Nq\(queries) Nk\(keys) D\(depth) Dv\(valueDepth)\(causal ? " causal" : "")\(keyPadding == nil ? "" : " padded")\(allowed == nil ? "" : " patterned")"
    }

    var queryShape: [Int] { [batch, heads, queries, depth] }
    var keyShape: [Int] { [batch, heads, keys, depth] }
    var valueShape: [Int] { [batch, heads, keys, valueDepth] }

    /// Random q, k, v from a seed.
    func inputs(seed: UInt64) -> (q: Tensor, k: Tensor, v: Tensor) {
        var random = TestRandom(seed: seed)
        return (random.normal(queryShape), random.normal(keyShape), random.normal(valueShape))
    }

    /// Whether query i of batch b may see key j.
    func visible(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        if causal && j > i { return false }
        if let keyPadding, !keyPadding[b][j] { return false }
        if let allowed, !allowed(i, j) { return false }
        return true
    }
}

/// A random key-padding mask that keeps at least one key per row unless `emptyRows` names it.
func randomPadding(batch: Int, keys: Int, seed: UInt64, emptyRows: Set<Int> = []) -> [[Bool]] {
    var generator = RandomGenerator(seed: seed)
    return (0..<batch).map { b in
        if emptyRows.contains(b) { return [Bool](repeating: false, count: keys) }
        var row = (0..<keys).map { _ in generator.nextUniform() < 0.7 }
        row[generator.nextInt(below: keys)] = true
        return row
    }
}

/// softmax(q·kᵀ·scale + mask)·v in Double, row by row; a row with no visible key gives zeros.
/// Also returns the probabilities [B, H, Nq, Nk] for the reference backward.
func referenceAttention(_ c: AttentionCase, q: Tensor, k: Tensor, v: Tensor, scale: Double? = nil) -> (output: [Double], probabilities: [Double]) {
    let (qs, ks, vs) = (q.scalars.map(Double.init), k.scalars.map(Double.init), v.scalars.map(Double.init))
    let alpha = scale ?? 1 / Double(c.depth).squareRoot()
    var output = [Double](repeating: 0, count: c.batch * c.heads * c.queries * c.valueDepth)
    var probabilities = [Double](repeating: 0, count: c.batch * c.heads * c.queries * c.keys)
    for b in 0..<c.batch {
        for h in 0..<c.heads {
            let bh = b * c.heads + h
            for i in 0..<c.queries {
                var scores = [Double](repeating: -.infinity, count: c.keys)
                for j in 0..<c.keys where c.visible(b, i, j) {
                    var dot = 0.0
                    for d in 0..<c.depth { dot += qs[(bh * c.queries + i) * c.depth + d] * ks[(bh * c.keys + j) * c.depth + d] }
                    scores[j] = alpha * dot
                }
                let peak = scores.max()!
                guard peak > -.infinity else { continue }
                let weights = scores.map { $0 == -.infinity ? 0 : Foundation.exp($0 - peak) }
                let total = weights.reduce(0, +)
                for j in 0..<c.keys {
                    let p = weights[j] / total
                    probabilities[(bh * c.queries + i) * c.keys + j] = p
                    guard p != 0 else { continue }
                    for e in 0..<c.valueDepth { output[(bh * c.queries + i) * c.valueDepth + e] += p * vs[(bh * c.keys + j) * c.valueDepth + e] }
                }
            }
        }
    }
    return (output, probabilities)
}

/// Gradients of Σ out · g with respect to q, k and v, in Double, from the reference's probabilities.
func referenceAttentionGradients(_ c: AttentionCase, q: Tensor, k: Tensor, v: Tensor, outputGradient g: Tensor,
                                 scale: Double? = nil) -> (dq: [Double], dk: [Double], dv: [Double]) {
    let (_, p) = referenceAttention(c, q: q, k: k, v: v, scale: scale)
    let (qs, ks, vs, gs) = (q.scalars.map(Double.init), k.scalars.map(Double.init), v.scalars.map(Double.init), g.scalars.map(Double.init))
    let alpha = scale ?? 1 / Double(c.depth).squareRoot()
    var dq = [Double](repeating: 0, count: qs.count), dk = [Double](repeating: 0, count: ks.count), dv = [Double](repeating: 0, count: vs.count)
    for bh in 0..<(c.batch * c.heads) {
        for i in 0..<c.queries {
            let row = (bh * c.queries + i) * c.keys
            var dp = [Double](repeating: 0, count: c.keys)
            var inner = 0.0
            for j in 0..<c.keys where p[row + j] != 0 {
                var dot = 0.0
                for e in 0..<c.valueDepth {
                    let gi = gs[(bh * c.queries + i) * c.valueDepth + e]
                    dot += gi * vs[(bh * c.keys + j) * c.valueDepth + e]
                    dv[(bh * c.keys + j) * c.valueDepth + e] += p[row + j] * gi
                }
                dp[j] = dot
                inner += dot * p[row + j]
            }
            for j in 0..<c.keys where p[row + j] != 0 {
                let ds = alpha * p[row + j] * (dp[j] - inner)
                for d in 0..<c.depth {
                    dq[(bh * c.queries + i) * c.depth + d] += ds * ks[(bh * c.keys + j) * c.depth + d]
                    dk[(bh * c.keys + j) * c.depth + d] += ds * qs[(bh * c.queries + i) * c.depth + d]
                }
            }
        }
    }
    return (dq, dk, dv)
}

/// ‖a − b‖ / ‖b‖ against a Double reference (‖a − b‖ when the reference is zero).
func relativeError(_ a: [Float], _ reference: [Double]) -> Double {
    precondition(a.count == reference.count, "\(a.count) values against \(reference.count) reference values")
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a, reference) {
        difference += (Double(x) - y) * (Double(x) - y)
        norm += y * y
    }
    return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
}

/// Largest |a − b| against a Double reference.
func maxDifference(_ a: [Float], _ reference: [Double]) -> Double {
    zip(a, reference).reduce(0.0) { Swift.max($0, Swift.abs(Double($1.0) - $1.1)) }
}

/// Runs a finite-difference gradient check and records a failure that prints the report.
func expectGradientsMatch(_ points: [Tensor], labels: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                          _ function: ([Tensor]) -> Tensor) {
    let report = checkGradients(at: points, function)
    #expect(report.passed, "\(labels)\n\(report)", sourceLocation: sourceLocation)
}
