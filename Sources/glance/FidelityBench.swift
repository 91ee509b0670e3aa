import ArgumentParser
import Foundation
import GlanceAttention
import GlanceCore

extension Bench {
    /// `--fidelity`: the mean approximation error over `seeds` seeds, for each length.
    func runFidelity() throws {
        for (index, n) in try lengths().enumerated() {
            var reported: [String: Int] = [:]
            let errors = try approximationErrors(seeds: (0..<UInt64(seeds)).map { $0 }, batch: batch, heads: heads, length: n, headDimensions: headDim,
                                                   mask: AttentionMask(causal: causal)) { generator in
                let layer = try makeLayer(length: n, generator: &generator)
                guard let approximate = layer as? any ApproximateAttention else {
                    throw ValidationError("--fidelity: '\(layer.mechanismName)' has no fidelity measure (exact attention, or shared query-keys without a separate-key counterpart)")
                }
                reported = approximate.approximationSettings
                return approximate
            }
            try report(settings: try commonSettings() + [("seeds", seeds)],
                       measurements: [("length", n)] + reported.sorted { $0.key < $1.key }.map { ($0.key, $0.value) as (String, Any) }
                           + [("fidelity_relative_error", mean(errors)), ("standard_error", standardError(errors)), ("errors", errors)],
                       first: index == 0)
        }
    }
}
