import Foundation
import GlanceCore

/// The Performer feature map of one role (queries or keys) for a projection W [m, d], applied
/// to blocks of rows through raw pointers: the shared core of ``performerFeatures`` (whole
/// tensors) and of ``fusedPerformerAttention`` (blocks computed when needed).
///
/// softmax: φ(x) = m^−½ (exp(W·x̂ − |x̂|²/2 − s) + ε), x̂ = x·d^−¼, ε = 1e-4, s per ``FeatureStabilizer``.
/// relu: φ(x) = relu(W·x̂) + 0.001.
struct FeatureMap {
    let projection: UnsafePointer<Float>
    let m: Int, d: Int
    let kernel: PerformerKernel
    let role: FeatureRole
    /// d^−¼, the scale of x̂.
    let scale: Float
    /// m^−½.
    let ratio: Float
    /// ε as added to the shifted exponentials (times e^−S for projection-bound keys).
    let epsilon: Float
    /// The constant key shift S of the projection-bound stabilizer; 0 otherwise.
    let boundShift: Float

    init(projection: UnsafePointer<Float>, features m: Int, dimensions d: Int, kernel: PerformerKernel,
         role: FeatureRole, stabilizer: FeatureStabilizer) {
        self.projection = projection
        self.m = m
        self.d = d
        self.kernel = kernel
        self.role = role
        scale = 1 / Float(d).squareRoot().squareRoot()
        ratio = 1 / Float(m).squareRoot()
        var shift: Float = 0
        if kernel == .softmax && role == .key && stabilizer == .projectionBound {
            for l in 0..<m { shift = Swift.max(shift, vectorDot(projection + l * d, projection + l * d, d) / 2 - 60) }
        }
        boundShift = shift
        let base: Float = kernel == .softmax ? 1e-4 : 1e-3
        epsilon = shift > 0 ? base * Foundation.exp(-shift) : base
    }

    /// The projections x̂·Wᵀ of `rows` rows of x (leading dimension d) into `out` (leading dimension m).
    func project(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: m, k: d, alpha: scale,
                   a: x, lda: d, b: projection, ldb: d, c: out, ldc: m)
    }

    /// Turns the projected rows in `out` into features, in place. Key rows are shifted by
    /// `keyShift`, query rows by their own maximum; rows for which `padded` is true become zero.
    func activate(_ x: UnsafePointer<Float>, rows: Int, _ out: UnsafeMutablePointer<Float>, keyShift: Float,
                  padded: (Int) -> Bool) {
        for r in 0..<rows {
            let row = out + r * m
            if padded(r) { row.update(repeating: 0, count: m); continue }
            var l = 0
            switch kernel {
            case .relu:
                let e = FloatVector(repeating: epsilon)
                while l + 16 <= m {
                    let v = loadVector(row + l)
                    storeVector(v.replacing(with: 0, where: v .< 0) + e, row + l)
                    l += 16
                }
                while l < m { row[l] = Swift.max(row[l], 0) + epsilon; l += 1 }
            case .softmax:
                let xr = x + r * d
                let half = scale * scale * vectorDot(xr, xr, d) / 2
                let shift = role == .query ? vectorMax(row, m) : keyShift
                let offset = FloatVector(repeating: half + shift)
                let e = FloatVector(repeating: epsilon), factor = FloatVector(repeating: ratio)
                while l + 16 <= m {
                    storeVector(factor * (fastExp(loadVector(row + l) - offset) + e), row + l)
                    l += 16
                }
                while l < m { row[l] = ratio * (fastExp(row[l] - half - shift) + epsilon); l += 1 }
            }
        }
    }

    /// dx (leading dimension d, overwritten) of `rows` rows from their features φ and the
    /// features' gradient `g` (overwritten: it becomes the gradient of the exponents).
    /// `scratch` holds rows × m floats (relu recomputes its projections there).
    func backward(_ x: UnsafePointer<Float>, features phi: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                  rows: Int, padded: (Int) -> Bool, scratch: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        if kernel == .relu { project(x, rows: rows, into: scratch) }
        var rowSums = [Float](repeating: 0, count: kernel == .softmax ? rows : 0)
        for r in 0..<rows {
            let gr = g + r * m
            if padded(r) { gr.update(repeating: 0, count: m); continue }
            switch kernel {
            case .relu:
                let pr = scratch + r * m
                for l in 0..<m where pr[l] <= 0 { gr[l] = 0 }
            case .softmax:
                // dφ/d(exponent) = φ − m^−½ ε.
                let fr = phi + r * m
                let shift = ratio * epsilon
                var total: Float = 0
                for l in 0..<m { let v = gr[l] * (fr[l] - shift); gr[l] = v; total += v }
                rowSums[r] = total
            }
        }
        BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: d, k: m, alpha: scale,
                   a: g, lda: m, b: projection, ldb: d, c: dx, ldc: d)
        // The exponent's −|x̂|²/2 term.
        for r in 0..<rowSums.count where rowSums[r] != 0 {
            vectorAxpy(-scale * scale * rowSums[r], x + r * d, dx + r * d, d)
        }
    }
}
