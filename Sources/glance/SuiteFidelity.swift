import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore
import GlanceReport

extension Bench {
    /// The suite's fidelity study at length `n`: the relative error against exact attention of
    /// Performer against its features, Linformer against k and Reformer against hash rounds,
    /// in each direction the mechanism supports; `record` receives each result as it comes.
    func suiteFidelity(length n: Int, mechanisms: [String], record: (FidelityMeasurement) throws -> Void) throws {
        let sizes = [16, 32, 64, 128, 256].filter { $0 <= n }
        let studies: [(mechanism: String, setting: String, values: [Int])] = [
            ("performer", "features", sizes), ("linformer", "k", sizes), ("reformer", "hashes", [1, 2, 4, 8]),
        ].filter { mechanisms.contains($0.mechanism) }
        let seedList = (0..<UInt64(seeds)).map { $0 }
        for study in studies {
            for causal in [false, true] {
                let required: AttentionCapabilities = causal ? .causal : .bidirectional
                guard let defaultLayer = try? layer(study.mechanism, options: [:], length: n, required: required) else { continue }
                let defaultValue = study.mechanism == "reformer"
                    ? (defaultLayer as? Reformer)?.attention.options.hashes : (defaultLayer as? any ApproximateAttention)?.approximationSettings[study.setting]
                for value in Array(Set(study.values + [defaultValue].compactMap { $0 })).sorted() {
                    let errors = try seedList.map { seed -> Double in
                        var generator = RandomGenerator(seed: seed)
                        if study.mechanism == "reformer" { return try reformerError(hashes: value, length: n, causal: causal, generator: &generator) }
                        return try approximationErrors(seeds: [seed], heads: heads, length: n, headDimensions: headDim, mask: AttentionMask(causal: causal)) { generator in
                            guard let approximate = try layer(study.mechanism, options: [study.setting: value], length: n, required: required, generator: &generator)
                                as? any ApproximateAttention else { throw CommandFailure("\(study.mechanism) has no fidelity measure") }
                            return approximate
                        }[0]
                    }
                    let deviation = standardError(errors) as? Double
                    try record(FidelityMeasurement(mechanism: study.mechanism, setting: study.setting, value: value, isDefault: value == defaultValue,
                                                   length: n, causal: causal, relativeError: mean(errors), standardError: deviation))
                }
            }
        }
    }

    /// A layer of `mechanism` with `options` (the rest default) that serves `required`.
    func layer(_ mechanism: String, options: [String: Any], length n: Int, required: AttentionCapabilities) throws -> any AttentionMechanism {
        var generator = RandomGenerator(seed: 0)
        return try layer(mechanism, options: options, length: n, required: required, generator: &generator)
    }

    func layer(_ mechanism: String, options: [String: Any], length n: Int, required: AttentionCapabilities,
               generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let text = try JSONSerialization.data(withJSONObject: options.merging(["type": mechanism]) { _, new in new })
        let configuration = try JSONDecoder().decode(AttentionConfiguration.self, from: text)
        let layer = try configuration.make(shape: shape(length: n), build: AttentionBuild(required: required), generator: &generator)
        try layer.check(required)
        return layer
    }

    /// Reformer's error: LSH attention with `hashes` rounds against the same shared-query-key
    /// attention over the whole sequence (one chunk: what LSH attention approximates, with
    /// its self-masking), on q ~ N(0, 0.25), v ~ N(0, 1) [1, heads, n, head-dim].
    func reformerError(hashes: Int, length n: Int, causal: Bool, generator: inout RandomGenerator) throws -> Double {
        let chunk = ReformerOptions().chunkLength
        let buckets = LSHBuckets.huggingFaceDefault(length: n, chunkLength: chunk, maximumPositions: n)
        let shape = [1, heads, n, headDim]
        let queryKeys = Tensor.randomNormal(shape: shape, standardDeviation: 0.5, generator: &generator)
        let values = Tensor.randomNormal(shape: shape, generator: &generator)
        let rotations = buckets.rotations(heads: heads, headDimensions: headDim, hashes: hashes, seed: generator.next())
        let mask = AttentionMask(causal: causal)
        let chunked = try LSHAttentionOptions(hashes: hashes, buckets: buckets, chunkLength: chunk)
        let whole = try LSHAttentionOptions(hashes: hashes, buckets: buckets, chunkLength: n)
        let (approximate, exact) = withoutGradients {
            (lshAttention(queryKeys: queryKeys, values: values, rotations: rotations, options: chunked, mask: mask),
             lshAttention(queryKeys: queryKeys, values: values, rotations: rotations, options: whole, mask: mask))
        }
        let (a, e) = (approximate.scalars, exact.scalars)
        let difference = zip(a, e).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }
        return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
    }
}
