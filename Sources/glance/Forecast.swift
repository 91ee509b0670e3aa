import ArgumentParser
import Foundation
import GlanceData
import GlanceTraining

/// `glance forecast`: quantile forecasts of a trained forecasting run over the test period.
struct Forecast: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write quantile forecasts of a trained forecasting run over its test period (CSV), and plot them (SVG).",
        discussion: """
        Forecasts the first rolling windows of the test period (by default as many as cover a week) \
        by ancestral sampling and writes one CSV row per series and step: timestamp, series, p10, \
        p50, p90, truth. --plot draws the history before them, the truth, the median and the 10–90 % band.
        """)

    @Option(help: "The run's training configuration (JSON).") var config: String
    @Option(parsing: .unconditional, help: "Steps per forecast (at most the model's horizon; default: the horizon).") var horizon: Int?
    @Option(parsing: .unconditional, help: "Sample paths per forecast (default: the config's data.samples).") var samples: Int?
    @Option(parsing: .unconditional, help: "Consecutive forecasts per series (default: as many as cover a week).") var windows: Int?
    @Option(help: "Quantile forecasts (CSV).") var output = "forecast.csv"
    @Option(help: "Also draw the forecasts of one series (SVG).") var plot: String?
    @Option(help: "The target column to plot (default: the first).") var series: String?
    @Option(name: .customLong("run"), help: "The run folder, when training overrode the config's output.") var runFolder: String?
    @Option(help: "Seed of the sample paths.") var seed: UInt64 = 0
    @OptionGroup var compute: ComputeOptions

    static let levels = [0.1, 0.5, 0.9]

    func validate() throws {
        for (flag, value) in [("--horizon", horizon), ("--samples", samples), ("--windows", windows)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1, got \(value)") }
        }
        if let samples, samples > ForecastingDataConfiguration.sampleLimit {
            throw ValidationError("--samples must be at most \(ForecastingDataConfiguration.sampleLimit), got \(samples)")
        }
    }

    func run() throws {
        compute.apply()
        let trainer = try trainedForecaster(config: config, run: runFolder)
        let task = trainer.task, data = task.dataset, model = task.configuration.model
        let steps = horizon ?? model.horizon
        guard steps <= model.horizon else { throw CommandFailure("--horizon \(steps) is longer than the model's horizon \(model.horizon) (model.horizon)") }
        let plotted = try series.map { name in
            guard let index = data.targetNames.firstIndex(of: name) else {
                throw CommandFailure("--series '\(name)' is not a target column (targets: \(data.targetNames.joined(separator: ", ")))")
            }
            return index
        } ?? 0
        let perSeries = windows ?? (SeasonalNaive.weeklySeason(interval: data.table.interval) + steps - 1) / steps
        let all = data.rollingWindows(over: data.splits.test, context: model.context, horizon: steps)
        guard !all.isEmpty else { throw CommandFailure("the test period (data.test_steps \(data.splits.test.count)) holds no forecast of \(steps) steps") }
        let chosen = Array(all.prefix(perSeries * data.seriesCount))
        let forecasts = task.forecast(chosen, horizon: steps, samples: samples ?? task.configuration.data.samples, levels: Self.levels, seed: seed)
        var csv = "timestamp,series,p10,p50,p90,truth\n"
        for forecast in forecasts.sorted(by: { ($0.series, $0.start) < ($1.series, $1.start) }) {
            for step in 0..<steps {
                let values = forecast.quantiles.map { "\($0[step])" } + ["\(forecast.truth[step])"]
                csv += "\(data.table.timestamps[forecast.start + step]),\(data.targetNames[forecast.series]),\(values.joined(separator: ","))\n"
            }
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        print("wrote \(output): \(forecasts.count / data.seriesCount) forecasts of \(steps) steps for each of \(data.seriesCount) series from step \(trainer.step)")
        if let plot {
            try Data(chart(forecasts.filter { $0.series == plotted }, of: task, series: plotted).svg().utf8).write(to: URL(fileURLWithPath: plot), options: .atomic)
            print("wrote \(plot): \(data.targetNames[plotted]), history, truth, median and 10–90 % band")
        }
    }

    /// The chart of one series' forecasts with up to a week (at least the context) of history before them.
    func chart(_ forecasts: [WindowForecast], of task: ForecastingTask, series: Int) -> ForecastPlot {
        let data = task.dataset, values = data.targets[series], times = data.table.timestamps
        let first = forecasts.map(\.start).min() ?? data.splits.test.lowerBound
        let reach = Swift.max(task.configuration.model.context, SeasonalNaive.weeklySeason(interval: data.table.interval))
        let historyRows = Swift.max(0, first - reach)..<first
        let points = forecasts.flatMap { forecast in
            (0..<forecast.truth.count).map { step in
                (time: times[forecast.start + step], low: forecast.quantiles[0][step], median: forecast.quantiles[1][step],
                 high: forecast.quantiles[2][step], truth: forecast.truth[step])
            }
        }.sorted { $0.time < $1.time }
        return ForecastPlot(title: "\(data.targetNames[series]): forecasts of the test period (\(task.configuration.model.attention))",
                            history: historyRows.map { (times[$0], values[$0]) }, truth: points.map { ($0.time, $0.truth) },
                            forecast: points.map { ($0.time, $0.low, $0.median, $0.high) })
    }
}
