import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Incremental decoding of each causal mechanism that supports it: a sequence fed through a
/// cache in pieces (a prompt, single positions, short runs) gives the causal forward's
/// outputs; mechanisms that cannot decode incrementally say so.
@Suite struct IncrementalDecodingTests {
    static let (width, heads) = (16, 2)

    /// The mechanisms under test, by label.
    static func mechanism(_ label: String) throws -> any AttentionMechanism {
        var generator = RandomGenerator(seed: 7)
        switch label {
        case "full":
            return try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        case "performer softmax":
            return try Performer(modelDimensions: width, heads: heads, features: 24, generator: &generator)
        case "performer relu":
            return try Performer(modelDimensions: width, heads: heads, features: 24, kernel: .relu, generator: &generator)
        case "longformer":
            return try Longformer(modelDimensions: width, heads: heads, attentionWindow: 6, globalProjections: false, generator: &generator)
        case "longformer dilated":
            return try Longformer(modelDimensions: width, heads: heads, attentionWindow: 4, dilation: [1, 3], globalProjections: false,
                                  generator: &generator)
        case "logsparse K=1":
            return try LogSparseAttention(modelDimensions: width, heads: heads, pattern: LogSparsePattern(), generator: &generator)
        case "logsparse K=3":
            return try LogSparseAttention(modelDimensions: width, heads: heads, queryKeyKernel: 3,
                                          pattern: LogSparsePattern(localWindow: 1, subsequenceLength: 5), generator: &generator)
        case "lsra lightweight", "lsra dynamic":
            var options = LongShortRangeOptions()
            (options.convolution, options.kernelSize) = label == "lsra dynamic" ? (.dynamic, .all(4)) : (.lightweight, .all(7))
            return try options.make(shape: AttentionShape(modelDimensions: width, heads: heads, maximumLength: 256),
                                    build: AttentionBuild(required: .causal), generator: &generator)
        default:
            Issue.record("unknown mechanism \(label)")
            throw AttentionConfigurationError(field: "label", reason: label)
        }
    }

    static let labels = ["full", "performer softmax", "performer relu", "longformer", "longformer dilated", "logsparse K=1", "logsparse K=3",
                         "lsra lightweight", "lsra dynamic"]

    /// Lengths of the pieces a sequence of `length` positions is fed in: a prompt of 7, then
    /// single positions and short runs.
    static func pieces(length: Int) -> [Int] {
        let steps = [1, 1, 3, 1, 2, 1, 5]
        var sizes = [7], total = 7
        while total < length {
            sizes.append(Swift.min(steps[sizes.count % steps.count], length - total))
            total += sizes.last!
        }
        return sizes
    }

    @Test("fed through its cache in pieces, the mechanism gives the causal forward's outputs (≤ 1e-5)", arguments: labels)
    func cachedEqualsCausal(_ label: String) throws {
        let attention = try Self.mechanism(label)
        #expect(attention.capabilities.contains(.incremental))
        let length = 150  // beyond the cache's first allocation, and many windows long
        var random = TestRandom(seed: 8)
        let input = random.normal([2, length, Self.width])
        let expected = withoutGradients { attention(input, mask: .causal) }
        let cache = try attention.makeCache(batch: 2)
        var outputs: [Tensor] = [], start = 0
        for size in Self.pieces(length: length) {
            let piece = input.sliced(alongAxis: 1, start..<(start + size))
            outputs.append(withoutGradients { attention.attend(piece, context: AttentionContext(cache: cache)).output })
            start += size
            #expect(cache.length == start)
        }
        let cached = concatenate(outputs, alongAxis: 1)
        #expect(cached.shape == expected.shape)
        #expect(isClose(cached.scalars, expected.scalars, relativeTolerance: 1e-5, absoluteTolerance: 1e-5),
                "max difference \(maxAbsoluteDifference(cached.scalars, expected.scalars))")
    }

    @Test("Reformer, Linformer and a Performer under the reference stabilizer cannot decode incrementally, and say so")
    func unsupported() throws {
        var generator = RandomGenerator(seed: 9)
        let reformer = try Reformer(modelDimensions: Self.width, heads: Self.heads,
                                    options: LSHAttentionOptions(hashes: 1, buckets: LSHBuckets(factors: [4]), chunkLength: 4,
                                                                 chunksBefore: 1, chunksAfter: 0),
                                    hashSeed: 1, generator: &generator)
        let linformer = try Linformer(modelDimensions: Self.width, heads: Self.heads, maximumLength: 16, projectedLength: 4,
                                      sharing: .headwise, generator: &generator)
        let performer = try Performer(modelDimensions: Self.width, heads: Self.heads, features: 8, generator: &generator)
        performer.stabilizer = .reference
        let mechanisms: [any AttentionMechanism] = [reformer, linformer, performer]
        for attention in mechanisms {
            #expect(!attention.capabilities.contains(.incremental))
            #expect(throws: AttentionCapabilityError(mechanism: attention.mechanismName, capability: "incremental decoding")) {
                _ = try attention.makeCache(batch: 1)
            }
        }
        performer.stabilizer = .projectionBound
        #expect(performer.capabilities.contains(.incremental))
    }
}
