import GlanceCore

/// The bucket layout of angular LSH: one even number of buckets, or a product of even
/// factors (Hugging Face's `num_buckets` as an int or a list). A vector's bucket within a
/// factor f is the argmax of [x·R ; −x·R] over f/2 random directions; factors combine as
/// digits, the first the least significant.
public struct LSHBuckets: Sendable, Equatable, CustomStringConvertible {
    /// The even factors whose product is the number of buckets.
    public let factors: [Int]

    /// Throws an error naming `num_buckets` unless there is at least one factor and every
    /// factor is even and at least 2.
    public init(factors: [Int]) throws {
        guard !factors.isEmpty else { throw AttentionConfigurationError(field: "num_buckets", reason: "needs at least one factor") }
        for factor in factors where factor < 2 || factor % 2 != 0 {
            throw AttentionConfigurationError(field: "num_buckets", reason: "every bucket count must be even and at least 2, got \(factor)")
        }
        self.factors = factors
    }

    /// A single even number of buckets.
    public init(count: Int) throws { try self.init(factors: [count]) }

    /// Number of buckets (the product of the factors), not counting the padding bucket.
    public var count: Int { factors.reduce(1, *) }
    /// Random directions per hash round: the sum of half of each factor.
    public var directions: Int { factors.reduce(0) { $0 + $1 / 2 } }

    public var description: String { factors.count == 1 ? "\(factors[0])" : "\(factors)" }

    /// Hugging Face's choice when `num_buckets` is unset (`LSHSelfAttention._set_num_buckets`):
    /// the power of two at most 2·⌊length / chunkLength⌋ (at least 2 here), split into two
    /// factors when it exceeds 2·max(⌊√(maximumPositions / chunkLength)⌋, chunkLength).
    public static func huggingFaceDefault(length: Int, chunkLength requested: Int, maximumPositions: Int) -> LSHBuckets {
        // A chunk longer than the sequence gives the same buckets as one of its length.
        let chunkLength = Swift.min(requested, Swift.max(length, 1))
        let target = Swift.max(2, 2 * (length / Swift.max(chunkLength, 1)))
        let exponent = Int.bitWidth - target.leadingZeroBitCount - 1
        let limit = 2 * Swift.max(Int(Double(maximumPositions / Swift.max(chunkLength, 1)).squareRoot()), chunkLength)
        let factors = (1 << exponent) > limit ? [1 << (exponent / 2), 1 << (exponent - exponent / 2)] : [1 << exponent]
        return try! LSHBuckets(factors: factors)
    }

    /// Random rotations [heads, headDimensions, hashes, directions] from N(0, 1), Hugging
    /// Face's layout, drawn from `seed`.
    public func rotations(heads: Int, headDimensions: Int, hashes: Int, seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        return .randomNormal(shape: [heads, headDimensions, hashes, directions], generator: &generator)
    }

    /// Bucket of one rotated vector (`directions` projections of one round): factors as digits.
    func bucket(of rotated: UnsafePointer<Float>) -> Int {
        var bucket = 0, product = 1, offset = 0
        for factor in factors {
            let half = factor / 2
            // argmax over [x ; −x], first maximum on ties (torch.argmax).
            var best = 0, bestValue = rotated[offset]
            for i in 1..<half where rotated[offset + i] > bestValue { best = i; bestValue = rotated[offset + i] }
            for i in 0..<half where -rotated[offset + i] > bestValue { best = half + i; bestValue = -rotated[offset + i] }
            bucket += product * best
            product *= factor
            offset += half
        }
        return bucket
    }
}

/// Sort orders of one attention slice (one batch entry and head) under `hashes` rounds of
/// LSH: positions sorted by (bucket, position) within each round, rounds one after another.
struct LSHSortOrder {
    /// Position at each sorted slot, `hashes · length` slots.
    var positions: [Int32]

    /// Hashes `length` vectors (rows of `vectors`, `depth` wide) with `rotations`
    /// [depth, hashes · directions]. Positions at or beyond `realCount`, and those that
    /// `tokens` marks false (padding), go to an extra last bucket (Hugging Face's padding bucket).
    init(vectors: UnsafePointer<Float>, realCount: Int, length: Int, depth: Int, rotations: UnsafePointer<Float>,
         hashes: Int, buckets: LSHBuckets, tokens: [Bool]?, scratch: UnsafeMutablePointer<Float>) {
        let directions = buckets.directions, columns = hashes * directions
        if realCount > 0 {
            BLAS.sgemm(transposeA: false, transposeB: false, m: realCount, n: columns, k: depth,
                       a: vectors, lda: depth, b: rotations, ldb: columns, c: scratch, ldc: columns)
        }
        let paddingBucket = buckets.count, bucketCount = buckets.count + 1
        positions = [Int32](repeating: 0, count: hashes * length)
        var bucketOf = [Int](repeating: 0, count: length)
        var starts = [Int](repeating: 0, count: bucketCount + 1)
        for round in 0..<hashes {
            starts.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for p in 0..<length {
                let padded = p >= realCount || !(tokens?[p] ?? true)
                let bucket = padded ? paddingBucket : buckets.bucket(of: scratch + p * columns + round * directions)
                bucketOf[p] = bucket
                starts[bucket + 1] += 1
            }
            for b in 0..<bucketCount { starts[b + 1] += starts[b] }
            // Counting sort, stable in position.
            for p in 0..<length {
                positions[round * length + starts[bucketOf[p]]] = Int32(p)
                starts[bucketOf[p]] += 1
            }
        }
    }
}
