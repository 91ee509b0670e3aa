import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// A probabilistic forecaster (Li et al. 2019): a causal decoder over a series, composed of a
/// ``SeriesInput``, a ``BlockStack`` of causal blocks (any causal mechanism; LogSparse with
/// convolutional queries and keys by default) and a ``LikelihoodHead``. Step i reads the value
/// of step i (scaled) with the covariates of step i + 1 and predicts the distribution of the
/// value of step i + 1. Parameter keys: `input.…`, `blocks.layers.<i>.…`, `head.norm.…`,
/// `head.projection.…`.
///
/// Forecasts are ancestral samples: each drawn value is fed back as the next step's input.
/// When every block's mechanism decodes incrementally (full, LogSparse, Longformer, Performer,
/// …) each layer keeps a cache and a new step costs one position; otherwise (`caching` off, or
/// a mechanism without a cache) each step recomputes the whole prefix.
public final class Forecaster: Module {
    public let configuration: ForecasterConfiguration
    public let input: SeriesInput
    public let blocks: BlockStack
    public let head: LikelihoodHead
    /// The random stream of every dropout layer (saved with checkpoints).
    public let _randomSource: RandomSource

    /// The model `c` describes for data of `featureCount` covariates and `seriesCount` series,
    /// its weights drawn from `seed` (GPT-2's initialization, as the language model).
    public init(configuration c: ForecasterConfiguration, featureCount: Int, seriesCount: Int, seed: UInt64) throws {
        try c.validate()
        guard let positions = AbsolutePositions(rawValue: c.positions) else {
            preconditionFailure("positions '\(c.positions)': validate the configuration before building a model")
        }
        configuration = c
        var generator = RandomGenerator(seed: seed)
        let source = RandomSource(seed: seed &+ 1)
        _randomSource = source
        input = SeriesInput(featureCount: featureCount, seriesCount: c.seriesEmbedding ? seriesCount : nil, dimensions: c.modelDimensions,
                            maximumLength: c.maximumLength, positions: positions, dropout: c.dropout, source: source, generator: &generator)
        let blocks = try BlockStack(c.blockShape, required: .causal, source: source, generator: &generator)
        self.blocks = blocks
        head = LikelihoodHead(dimensions: blocks.outputDimensions(modelDimensions: c.modelDimensions), likelihood: c.likelihood,
                              standardDeviation: TransformerBlock.initialStandardDeviation, generator: &generator)
        super.init()
    }

    public var likelihood: Likelihood { configuration.likelihood }
    /// Whether forecasts can use per-layer caches.
    public var supportsIncrementalDecoding: Bool { blocks.supportsIncrementalDecoding }

    /// The inputs of steps `steps` for rows whose scaled values are `scaled` [rows, width] and
    /// whose covariates are `covariates` [rows, width, features] (step i reads covariates of i + 1).
    static func inputs(scaled: [Float], covariates: [Float], series: [Int], width: Int, featureCount: Int, steps: Range<Int>) -> SeriesInputBatch {
        let rows = series.count
        var values = [Float](), features = [Float]()
        values.reserveCapacity(rows * steps.count)
        features.reserveCapacity(rows * steps.count * featureCount)
        for row in 0..<rows {
            values.append(contentsOf: scaled[(row * width + steps.lowerBound)..<(row * width + steps.upperBound)])
            let first = (row * width + steps.lowerBound + 1) * featureCount
            features.append(contentsOf: covariates[first..<(first + steps.count * featureCount)])
        }
        return SeriesInputBatch(values: Tensor(values, shape: [rows, steps.count]),
                                covariates: Tensor(features, shape: [rows, steps.count, featureCount]), series: series)
    }

    /// The distributions' parameters at every step of `batch` but the last (teacher forcing),
    /// with the blocks' auxiliary loss.
    public func parameters(_ batch: SeriesWindowBatch) -> (parameters: [Tensor], auxiliaryLoss: Tensor?) {
        precondition(batch.length >= 2 && batch.length <= configuration.maximumLength + 1,
                     "windows of \(batch.length) steps for a model of \(configuration.maximumLength) steps")
        let scaled = batch.values.indices.map { SeriesScaling.scaled(batch.values[$0], by: batch.scales[$0 / batch.length]) }
        let steps = Self.inputs(scaled: scaled, covariates: batch.covariates, series: batch.series, width: batch.length,
                                featureCount: batch.featureCount, steps: 0..<(batch.length - 1))
        let result = blocks.forward(input(steps), context: AttentionContext(mask: .causal))
        return (head.parameters(result.output, scales: batch.scales), result.auxiliaryLoss)
    }

    /// Mean negative log-likelihood of every value of `batch` after its first, plus the blocks'
    /// auxiliary losses.
    public func loss(_ batch: SeriesWindowBatch) -> Tensor {
        let (parameters, auxiliaryLoss) = parameters(batch)
        let length = batch.length - 1
        var targets = [Float](repeating: 0, count: batch.count * length)
        for row in 0..<batch.count {
            for i in 0..<length { targets[row * length + i] = head.target(batch.values[row * batch.length + i + 1], scale: batch.scales[row]) }
        }
        let loss = likelihood.negativeLogLikelihood(parameters: parameters, targets: Tensor(targets, shape: [batch.count, length]))
        return auxiliaryLoss.map { loss + $0 } ?? loss
    }

    /// `samples` ancestral sample paths of the `horizon` steps after the first `context` values
    /// of each window of `batch` (windows of `context + horizon` steps, whose last `horizon`
    /// values are not read; covariates are). Returns per window [samples][horizon] raw values.
    /// Inference only (call it inside `withoutGradients`, on a model in eval mode).
    public func sampleForecasts(_ batch: SeriesWindowBatch, context: Int, horizon: Int, samples: Int, caching: Bool = true,
                                generator: inout RandomGenerator) -> [[[Float]]] {
        precondition(horizon >= 1 && samples >= 1 && batch.length == context + horizon && context + horizon <= configuration.maximumLength + 1,
                     "windows of \(batch.length) steps for context \(context) + horizon \(horizon) (model: \(configuration.maximumLength) steps)")
        let width = batch.length, features = batch.featureCount
        let rows = batch.count * samples
        let rowWindow = (0..<rows).map { $0 / samples }
        var scaled = [Float](repeating: 0, count: rows * width), covariates = [Float]()
        covariates.reserveCapacity(rows * width * features)
        for row in 0..<rows {
            let window = rowWindow[row]
            for i in 0..<context { scaled[row * width + i] = SeriesScaling.scaled(batch.values[window * width + i], by: batch.scales[window]) }
            covariates.append(contentsOf: batch.covariates[(window * width * features)..<((window + 1) * width * features)])
        }
        let series = rowWindow.map { batch.series[$0] }, scales = rowWindow.map { batch.scales[$0] }
        var paths = [[Float]](repeating: [], count: rows)
        let caches = caching && supportsIncrementalDecoding ? try? blocks.makeCaches(batch: rows) : nil
        var next = 0  // first step not yet run through the caches
        for step in 0..<horizon {
            let last = context + step - 1  // the step whose output predicts value context + step
            let steps = caches == nil ? 0..<(last + 1) : next..<(last + 1)
            let stepInput = input(Self.inputs(scaled: scaled, covariates: covariates, series: series, width: width, featureCount: features, steps: steps),
                                  firstPosition: steps.lowerBound)
            let hidden = caches.map { blocks.forward(stepInput, caches: $0).output } ?? blocks.forward(stepInput, context: AttentionContext(mask: .causal)).output
            next = last + 1
            let parameters = head.parameters(hidden.sliced(alongAxis: 1, (steps.count - 1)..<steps.count), scales: scales).map(\.scalars)
            for row in 0..<rows {
                let draw = likelihood.sample(parameters.map { $0[row] }, generator: &generator)
                let value = head.value(ofDraw: draw, scale: scales[row])
                paths[row].append(value)
                scaled[row * width + context + step] = SeriesScaling.scaled(value, by: scales[row])
            }
        }
        return (0..<batch.count).map { window in Array(paths[(window * samples)..<((window + 1) * samples)]) }
    }
}
