extension Tensor {
    /// Matrix product `op(self) · op(other)` where op transposes the last two axes when asked.
    ///
    /// Shapes: `[…, m, k] · […, k, n] → […, m, n]`. Leading (batch) axes must be equal, or
    /// `other` may be a plain matrix shared by every batch entry (one large product then).
    /// Every product runs through BLAS, split across `Threading.count` workers.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[rank - 1] : shape[rank - 2]
        let k = transposeSelf ? shape[rank - 2] : shape[rank - 1]
        let k2 = transposeOther ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
        let n = transposeOther ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
        precondition(k == k2, "matmul inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "")")
        let batchShape = Array(shape.dropLast(2))
        let otherBatch = Array(other.shape.dropLast(2))
        precondition(otherBatch.isEmpty || otherBatch == batchShape,
                     "matmul batch axes differ: \(shape) · \(other.shape)")
        let batch = batchShape.reduce(1, *)
        let sharedOther = otherBatch.isEmpty
        if sharedOther && !transposeSelf && rank > 2 {
            // One large product over all rows; gradients follow through the reshapes.
            return reshaped(to: [batch * m, k]).matmul(other, transposeOther: transposeOther).reshaped(to: batchShape + [m, n])
        }
        let result = withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                Tensor(shape: batchShape + [m, n]) { c in
                    let lda = shape[rank - 1], ldb = other.shape[other.rank - 1]
                    batchedProduct(a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!, batch: batch,
                                   m: m, n: n, k: k, lda: lda, ldb: ldb, strideA: shape[rank - 2] * lda,
                                   strideB: sharedOther ? 0 : other.shape[other.rank - 2] * ldb,
                                   transposeA: transposeSelf, transposeB: transposeOther)
                }
            }
        }
        let a = detached(), b = other.detached()
        let needA = requiresGradient, needB = other.requiresGradient
        let batchedShared = sharedOther && rank > 2
        return result.recorded(from: [self, other]) { g in
            var gradA: Tensor? = nil, gradB: Tensor? = nil
            switch (transposeSelf, transposeOther) {
            case (false, false):
                if needA { gradA = g.matmul(b, transposeOther: true) }
                if needB { gradB = a.matmul(g, transposeSelf: true) }
            case (false, true):
                if needA { gradA = g.matmul(b) }
                if needB { gradB = g.matmul(a, transposeSelf: true) }
            case (true, false):
                // A shared matrix b cannot be the batched left operand: use dA = (g·bᵀ)ᵀ.
                if needA { gradA = batchedShared ? g.matmul(b, transposeOther: true).transposed() : b.matmul(g, transposeOther: true) }
                if needB { gradB = a.matmul(g) }
            case (true, true):
                if needA { gradA = batchedShared ? g.matmul(b).transposed() : b.matmul(g, transposeSelf: true, transposeOther: true) }
                if needB { gradB = g.matmul(a, transposeSelf: true, transposeOther: true) }
            }
            if sharedOther, let product = gradB, product.rank > 2 {
                gradB = product.reshaped(to: [-1] + Array(product.shape.suffix(2))).sum(alongAxis: 0)
            }
            return [gradA, gradB]
        }
    }
}

/// A batch of independent products. Large ones are split inside; many small ones are
/// spread over the workers, each calling single-threaded BLAS.
func batchedProduct(a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, batch: Int,
                    m: Int, n: Int, k: Int, lda: Int, ldb: Int, strideA: Int, strideB: Int,
                    transposeA: Bool, transposeB: Bool) {
    let work = m * n * k
    if batch < Threading.count || work >= 1 << 22 {
        for i in 0..<batch {
            BLAS.parallelSgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                               a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb, c: c + i * m * n, ldc: n)
        }
        return
    }
    let pa = SendablePointer(UnsafeMutablePointer(mutating: a)), pb = SendablePointer(UnsafeMutablePointer(mutating: b))
    let pc = SendablePointer(c)
    parallelFor(batch) { range in
        for i in range {
            BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       a: pa.base + i * strideA, lda: lda, b: pb.base + i * strideB, ldb: ldb, c: pc.base + i * m * n, ldc: n)
        }
    }
}

/// Affine map x · Wᵀ + b over the last axis, with W stored as [outputs, inputs] (PyTorch's
/// layout). Fused: the bias seeds the output and one BLAS product accumulates onto it; the
/// backward pass returns x's, W's and b's gradients from three products and a column sum.
public func affine(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let inputs = weight.shape[1], outputs = weight.shape[0]
    precondition(weight.rank == 2 && x.shape.last == inputs, "affine map with weight \(weight.shape) cannot take input \(x.shape)")
    if let bias { precondition(bias.shape == [outputs], "bias must have shape [\(outputs)], got \(bias.shape)") }
    let rows = x.count / inputs
    let outputShape = Array(x.shape.dropLast()) + [outputs]
    let y = x.withUnsafeBufferPointer { xb in
        weight.withUnsafeBufferPointer { wb in
            Tensor(shape: outputShape) { out in
                if let bias {
                    bias.withUnsafeBufferPointer { bb in
                        for r in 0..<rows { (out.baseAddress! + r * outputs).update(from: bb.baseAddress!, count: outputs) }
                    }
                }
                BLAS.parallelSgemm(transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs,
                                   a: xb.baseAddress!, lda: inputs, b: wb.baseAddress!, ldb: inputs,
                                   beta: bias == nil ? 0 : 1, c: out.baseAddress!, ldc: outputs)
            }
        }
    }
    let xd = x.detached(), wd = weight.detached()
    let needX = x.requiresGradient, needW = weight.requiresGradient, needB = bias?.requiresGradient ?? false
    return y.recorded(from: [x, weight] + (bias.map { [$0] } ?? [])) { g in
        let g2 = g.reshaped(to: [rows, outputs])
        var result: [Tensor?] = [
            needX ? g2.matmul(wd).reshaped(to: xd.shape) : nil,
            needW ? g2.matmul(xd.reshaped(to: [rows, inputs]), transposeSelf: true) : nil,
        ]
        if bias != nil { result.append(needB ? g2.sum(alongAxis: 0) : nil) }
        return result
    }
}
