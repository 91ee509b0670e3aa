import Foundation
import GlanceCore
import GlanceData
import GlanceModels

/// The quantile forecast of one window: rows `start ..< start + horizon` of one series.
public struct WindowForecast: Sendable {
    public let series: Int
    /// The first forecast row.
    public let start: Int
    /// Per quantile level, one value per step.
    public let quantiles: [[Float]]
    /// The series' values at those rows.
    public let truth: [Float]
}

/// The scores of a model and of the seasonal-naive baseline on the same rolling windows.
public struct ForecastReport: Sendable {
    public let windows: Int
    public let horizon: Int
    public let samples: Int
    /// Rows per season of the baseline (a week).
    public let season: Int
    public let model: ForecastScore
    public let seasonalNaive: ForecastScore
}

extension ForecastingTask {
    /// Quantile forecasts at `levels` of the `horizon` rows after each window's `context` rows,
    /// from `samples` sample paths each (windows of `context + horizon` rows; `horizon` at most
    /// the model's). Seeded: the same seed gives the same forecasts.
    public func forecast(_ windows: [SeriesWindow], horizon: Int, samples: Int, levels: [Double], seed: UInt64,
                         caching: Bool = true) -> [WindowForecast] {
        let context = configuration.model.context
        precondition(horizon >= 1 && horizon <= configuration.model.horizon, "horizon \(horizon) beyond the model's \(configuration.model.horizon)")
        var generator = RandomGenerator(seed: seed)
        var forecasts: [WindowForecast] = []
        model.eval()
        defer { model.train() }
        let chunk = Swift.max(1, 256 / samples)
        withoutGradients {
            for first in stride(from: 0, to: windows.count, by: chunk) {
                let part = Array(windows[first..<Swift.min(first + chunk, windows.count)])
                let batch = dataset.batch(part, length: context + horizon, context: context)
                let paths = model.sampleForecasts(batch, context: context, horizon: horizon, samples: samples, caching: caching, generator: &generator)
                for (window, windowPaths) in zip(part, paths) {
                    let sorted = (0..<horizon).map { step in windowPaths.map { $0[step] }.sorted() }
                    let start = window.start + context
                    forecasts.append(WindowForecast(series: window.series, start: start,
                                                    quantiles: levels.map { level in sorted.map { ForecastScore.quantile($0, level) } },
                                                    truth: Array(dataset.targets[window.series][start..<(start + horizon)])))
                }
            }
        }
        return forecasts
    }

    /// The rolling windows of `horizon` rows over the test rows (at most `eval_windows` of them),
    /// those with a week of rows before them, for the baseline.
    public func testWindows(horizon: Int) throws -> [SeriesWindow] {
        let context = configuration.model.context, season = SeasonalNaive.weeklySeason(interval: dataset.table.interval)
        let windows = dataset.rollingWindows(over: dataset.splits.test, context: context, horizon: horizon, limit: nil)
            .filter { $0.start + context >= season }
        guard !windows.isEmpty else {
            throw TimeSeriesError.tooShort(path: dataset.table.path, field: "data.test_steps",
                                           reason: "leaves no test window of \(horizon) steps with a week (\(season) rows) of history before it")
        }
        let limit = configuration.data.evaluationWindows.map { $0 * dataset.seriesCount } ?? windows.count
        return Array(windows.prefix(limit))
    }

    /// R0.5, R0.9, MAE and sMAPE of the model's sampled quantiles and of the seasonal-naive
    /// forecast (same time last week) over the test windows of `horizon` rows.
    public func evaluateTest(horizon: Int, samples: Int, seed: UInt64) throws -> ForecastReport {
        let windows = try testWindows(horizon: horizon), season = SeasonalNaive.weeklySeason(interval: dataset.table.interval)
        var model = ForecastScore(), naive = ForecastScore()
        for forecast in forecast(windows, horizon: horizon, samples: samples, levels: model.levels, seed: seed) {
            model.add(truth: forecast.truth, forecasts: forecast.quantiles)
            let baseline = SeasonalNaive.forecast(dataset.targets[forecast.series], start: forecast.start, horizon: horizon, season: season)
            naive.add(truth: forecast.truth, forecasts: naive.levels.map { _ in baseline })
        }
        return ForecastReport(windows: windows.count, horizon: horizon, samples: samples, season: season, model: model, seasonalNaive: naive)
    }
}
