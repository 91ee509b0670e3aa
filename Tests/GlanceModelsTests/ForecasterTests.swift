import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

@Suite struct ForecasterTests {
    static func configuration(_ attention: AttentionConfiguration, likelihood: Likelihood = .gaussian) -> ForecasterConfiguration {
        var c = ForecasterConfiguration()
        (c.layers, c.modelDimensions, c.heads, c.dropout, c.attention) = (2, 8, 2, 0, attention)
        (c.context, c.horizon, c.likelihood) = (6, 3, likelihood)
        return c
    }

    static let mechanisms: [AttentionConfiguration] = [
        ForecasterConfiguration.defaultAttention, AttentionConfiguration(LogSparseOptions(queryKeyKernel: 1)), .full,
    ]

    /// Two windows of 9 steps with 3 covariates and fixed scales.
    static func batch(seed: UInt64 = 1, changing step: Int? = nil) -> SeriesWindowBatch {
        var random = TestRandom(seed: seed)
        var values = random.uniform([2 * 9], in: 1...5).scalars, covariates = random.normal([2 * 9 * 3]).scalars
        if let step {
            values[step] += 3
            values[9 + step] -= 2
            for k in 0..<3 { covariates[(step + 1) * 3 + k] += 1 }
        }
        return SeriesWindowBatch(values: values, covariates: covariates, series: [0, 1], scales: [3, 2], length: 9, featureCount: 3)
    }

    @Test("shapes, and causality: changing a later input changes no earlier output", arguments: mechanisms)
    func causality(_ attention: AttentionConfiguration) throws {
        let model = try Forecaster(configuration: Self.configuration(attention), featureCount: 3, seriesCount: 2, seed: 4)
        model.eval()
        let base = withoutGradients { model.parameters(Self.batch()).parameters }
        #expect(base.count == 2 && base.allSatisfy { $0.shape == [2, 8] })
        let changed = withoutGradients { model.parameters(Self.batch(changing: 5)).parameters }
        for (a, b) in zip(base, changed) {
            for row in 0..<2 {
                for i in 0..<8 {
                    let difference = Swift.abs(a[row, i] - b[row, i])
                    if i < 5 { #expect(difference < 1e-6, "\(attention) row \(row) step \(i) changed by \(difference)") }
                }
            }
        }
        #expect(zip(base[0].scalars, changed[0].scalars).contains { Swift.abs($0 - $1) > 1e-4 })
    }

    @Test("the loss is finite, and its gradient reaches every parameter")
    func loss() throws {
        let model = try Forecaster(configuration: Self.configuration(ForecasterConfiguration.defaultAttention, likelihood: .studentT),
                                   featureCount: 3, seriesCount: 2, seed: 4)
        let (loss, gradients) = valueAndGradient(model: model) { $0.loss(Self.batch()) }
        #expect(loss.item().isFinite)
        #expect(gradients.count == model.trainableParameters().count)
    }

    @Test("ancestral samples are reproducible by seed, and cached decoding equals recomputation", arguments: mechanisms)
    func sampling(_ attention: AttentionConfiguration) throws {
        let model = try Forecaster(configuration: Self.configuration(attention), featureCount: 3, seriesCount: 2, seed: 9)
        model.eval()
        #expect(model.supportsIncrementalDecoding)
        func draw(seed: UInt64, caching: Bool) -> [[[Float]]] {
            var generator = RandomGenerator(seed: seed)
            return withoutGradients { model.sampleForecasts(Self.batch(), context: 6, horizon: 3, samples: 4, caching: caching, generator: &generator) }
        }
        let first = draw(seed: 1, caching: true)
        #expect(first.count == 2 && first.allSatisfy { $0.count == 4 && $0.allSatisfy { $0.count == 3 } })
        #expect(first == draw(seed: 1, caching: true))
        #expect(first != draw(seed: 2, caching: true))
        let recomputed = draw(seed: 1, caching: false)
        for (a, b) in zip(first.joined().joined(), recomputed.joined().joined()) { #expect(Swift.abs(a - b) <= 1e-3 * Swift.max(1, Swift.abs(a)), "\(a) vs \(b)") }
    }

    @Test("a bad model section names the field")
    func configurationErrors() throws {
        func message(_ json: String) -> String {
            do {
                _ = try JSONDecoder().decode(ForecasterConfiguration.self, from: Data(json.utf8)).validate()
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(message(#"{"horizon": 0}"#).contains("model.horizon"))
        #expect(message(#"{"calendar": ["time_of_year"]}"#).contains("model.calendar"))
        #expect(message(#"{"likelihood": "poisson"}"#).contains("gaussian, student_t, negative_binomial"))
        #expect(message(#"{"d_model": 30, "heads": 4}"#).contains("model.d_model"))
        #expect(message(#"{"attention": {"type": "logsparse", "qk_kernel": 0}}"#).contains("qk_kernel"))
    }

    @Test("the forecasting configs shipped in configs/ load; the vic_elec day-ahead trio differs only in attention and run folder")
    func shippedConfigurations() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasPrefix("forecast-") && $0.hasSuffix(".json") }
        #expect(files.count >= 6)
        for file in files {
            #expect(throws: Never.self, "\(file)") { _ = try loadConfiguration(ForecastingConfiguration.self, from: configs.appendingPathComponent(file)) }
        }
        let trio = try ["logsparse", "logsparse-k1", "full"].map {
            try loadConfiguration(ForecastingConfiguration.self, from: configs.appendingPathComponent("forecast-vic-elec-\($0).json"))
        }
        #expect(trio[0].model.context >= 672 && trio[0].model.horizon == 48)
        for other in trio.dropFirst() {
            var aligned = other
            (aligned.model.attention, aligned.output) = (trio[0].model.attention, trio[0].output)
            #expect(aligned == trio[0])
        }
    }
}
