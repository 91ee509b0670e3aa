import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// Probabilistic forecasting with a ``GlanceModels/Forecaster``: training windows of
/// `context + horizon` rows at random series and offsets of the training rows; validation is
/// the mean negative log-likelihood over the rolling windows of the validation rows. The
/// checkpoint is the run's model: `glance forecast` and `glance eval` read it.
public final class ForecastingTask: TrainingTask {
    public static let name = "forecasting"
    public static let exampleName = "windows"

    public let configuration: ForecastingConfiguration
    public let dataset: SeriesDataset
    public let model: Forecaster
    /// The generator of the training windows.
    public var samplerState: RandomGenerator

    public var modelConfiguration: ForecasterConfiguration { configuration.model }
    public var randomSource: RandomSource { model._randomSource }
    /// Rows of one window.
    public var windowLength: Int { configuration.model.context + configuration.model.horizon }

    /// Reads and splits the configuration's series file: throws a ``GlanceData/TimeSeriesError``
    /// naming the file, row, column or field for a bad file or splits it cannot serve.
    public init(configuration: ForecastingConfiguration) throws {
        let data = configuration.data, model = configuration.model
        let table = try TimeSeriesTable(contentsOf: URL(fileURLWithPath: data.file), timestampColumn: data.timestamp,
                                        columns: data.targets + data.covariates)
        let splits = try SeriesSplits(rows: table.count, validationRows: data.validationSteps, testRows: data.testSteps,
                                      context: model.context, horizon: model.horizon, path: table.path)
        if model.likelihood == .negativeBinomial { try Self.requireCounts(table, targets: data.targets) }
        self.configuration = configuration
        dataset = SeriesDataset(table: table, targets: data.targets, covariates: data.covariates, calendar: model.calendar, splits: splits)
        self.model = try Forecaster(configuration: model, featureCount: dataset.featureCount, seriesCount: dataset.seriesCount,
                                    seed: configuration.training.seed)
        samplerState = RandomGenerator(seed: configuration.training.seed &+ 2)
    }

    /// Throws for the first target value that is not a count (a whole number ≥ 0).
    static func requireCounts(_ table: TimeSeriesTable, targets: [String]) throws {
        for name in targets {
            if let row = table.column(name).firstIndex(where: { $0 < 0 || $0 != $0.rounded() }) {
                throw TimeSeriesError.nonNumeric(path: table.path, row: row + 2, column: name,
                                                 value: "\(table.column(name)[row]) (negative_binomial needs counts: whole numbers ≥ 0)")
            }
        }
    }

    /// Steps read per step of training.
    public func tokens(batchSize: Int) -> Int { batchSize * (windowLength - 1) }

    public func nextBatch(size: Int) -> SeriesWindowBatch {
        let starts = dataset.splits.train.count - windowLength + 1
        let windows = (0..<size).map { _ in
            SeriesWindow(series: samplerState.nextInt(below: dataset.seriesCount), start: samplerState.nextInt(below: starts))
        }
        return dataset.batch(windows, length: windowLength, context: configuration.model.context)
    }

    public func loss(_ batch: SeriesWindowBatch, carried: inout [String: Tensor]) -> Tensor { model.loss(batch) }

    public func validationMetrics() -> [Metric] { [Metric("loss", Double(negativeLogLikelihood(over: dataset.splits.validation)))] }

    /// The rolling windows whose forecasts tile `range` (at most `eval_windows` of them).
    public func evaluationWindows(over range: Range<Int>) -> [SeriesWindow] {
        let m = configuration.model
        return dataset.rollingWindows(over: range, context: m.context, horizon: m.horizon, limit: configuration.data.evaluationWindows)
    }

    /// Mean negative log-likelihood per step (teacher forcing) over the rolling windows of `range`.
    public func negativeLogLikelihood(over range: Range<Int>) -> Float {
        let windows = evaluationWindows(over: range), size = configuration.training.batchSize
        model.eval()
        defer { model.train() }
        var total = 0.0
        withoutGradients {
            for start in stride(from: 0, to: windows.count, by: size) {
                let part = Array(windows[start..<Swift.min(start + size, windows.count)])
                total += Double(model.loss(dataset.batch(part, length: windowLength, context: configuration.model.context)).item()) * Double(part.count)
            }
        }
        return Float(total / Double(Swift.max(windows.count, 1)))
    }

    /// The checkpoint is the run's model; test metrics come from `glance eval`.
    public func finish(output: URL) throws -> [Metric] { [] }
}

extension SeriesWindowBatch: SplittableBatch {
    public var exampleCount: Int { count }

    public func split(size: Int) -> [SeriesWindowBatch] {
        stride(from: 0, to: count, by: size).map { rows($0..<Swift.min($0 + size, count)) }
    }
}

/// The forecaster's trainer.
public typealias ForecastingTrainer = Trainer<ForecastingTask>

extension Trainer where Task == ForecastingTask {
    /// A trainer of the forecaster of `configuration`.
    public convenience init(configuration: ForecastingConfiguration) throws {
        self.init(task: try ForecastingTask(configuration: configuration), settings: configuration.training,
                  output: URL(fileURLWithPath: configuration.output))
    }
}
