import Foundation

/// A seeded, reproducible random number generator (xoshiro256**, seeded by SplitMix64).
///
/// Its state is `Codable` so that a resumed training run continues the same stream.
public struct RandomGenerator: RandomNumberGenerator, Codable, Sendable, Equatable {
    private var state: [UInt64]

    public init(seed: UInt64) {
        var z = seed
        func splitMix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        state = [splitMix(), splitMix(), splitMix(), splitMix()]
    }

    private enum CodingKeys: String, CodingKey { case state }

    /// Decodes a saved state, refusing one that is not four words or is all zero (a fixed
    /// point of xoshiro: the generator would return zero forever).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let state = try container.decode([UInt64].self, forKey: .state)
        guard state.count == 4 else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: container, debugDescription: "a generator state has 4 words, got \(state.count)")
        }
        guard state.contains(where: { $0 != 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: container, debugDescription: "a generator state of all zeros never changes")
        }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotate(state[3], 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * 0x1p-53, u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(Swift.max(u1, .leastNonzeroMagnitude))).squareRoot() * Foundation.cos(2 * .pi * u2))
    }

    /// Uniform integer in `0..<bound`.
    public mutating func nextInt(below bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }
}

extension Tensor {
    /// Elements drawn from N(mean, standard deviation²).
    public static func randomNormal(shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                                    generator: inout RandomGenerator) -> Tensor {
        var values = [Float](repeating: 0, count: elementCount(shape))
        for i in values.indices { values[i] = mean + standardDeviation * generator.nextNormal() }
        return Tensor(values, shape: shape)
    }

    /// Elements drawn uniformly from [lower, upper).
    public static func randomUniform(shape: [Int], lower: Float = 0, upper: Float = 1,
                                     generator: inout RandomGenerator) -> Tensor {
        var values = [Float](repeating: 0, count: elementCount(shape))
        for i in values.indices { values[i] = lower + (upper - lower) * generator.nextUniform() }
        return Tensor(values, shape: shape)
    }

    /// Zeros with the given shape.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// Ones with the given shape.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// `value` everywhere in the given shape.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor { Tensor(shape: shape, repeating: value) }

    /// start, start + step, … below `end`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<n).map { start + Float($0) * step })
    }
}

/// Inverted dropout: zeroes each element with probability `probability` and scales the
/// rest by 1 / (1 − probability). The identity when `probability` is 0.
///
/// The mask takes one word from `generator` as a key and hashes each element's index with it
/// (a counter-based stream): 16 lanes at a time, split across threads, the same mask for any
/// thread count, and a generator restored from a checkpoint draws the same masks again.
public func dropout(_ x: Tensor, probability: Float, generator: inout RandomGenerator) -> Tensor {
    precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1), got \(probability)")
    guard probability > 0 else { return x }
    let key = generator.next()
    let mask = Tensor(shape: x.shape) { out in
        dropoutMask(out, key: key, probability: probability)
    }
    return x * mask
}

/// Writes 1 / (1 − probability) or 0 (with probability `probability`) to each element of
/// `mask`; element i's choice depends only on `key` and i.
func dropoutMask(_ mask: UnsafeMutableBufferPointer<Float>, key: UInt64, probability: Float) {
    let scale = FloatVector(repeating: 1 / (1 - probability))
    // Keep an element when the top 24 bits of its hash reach probability · 2^24.
    let threshold = SIMD16<UInt32>(repeating: UInt32((Double(probability) * 0x1p24).rounded(.up)))
    let low = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: key)), high = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: key >> 32))
    let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let output = SendablePointer(mask.baseAddress!)
    parallelFor(mask.count, grain: 1 << 15) { range in
        var i = range.lowerBound
        while i < range.upperBound {
            let index = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: i)) &+ lanes
            let hash = mixBits(mixBits(index ^ low) &+ high)
            let values = FloatVector().replacing(with: scale, where: (hash &>> 8) .>= threshold)
            let count = Swift.min(16, range.upperBound - i)
            if count == 16 {
                storeVector(values, output.base + i)
            } else {
                for lane in 0..<count { output.base[i + lane] = values[lane] }
            }
            i += count
        }
    }
}

/// A 32-bit integer hash with good avalanche (xor-shift and multiply rounds, lowbias32).
@inline(__always)
func mixBits(_ input: SIMD16<UInt32>) -> SIMD16<UInt32> {
    var x = input
    x ^= x &>> 16
    x &*= 0x7FEB_352D
    x ^= x &>> 15
    x &*= 0x846C_A68B
    x ^= x &>> 16
    return x
}
