import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// A forecaster of time series: configurations whose data section names `targets` (series columns).
enum ForecastingRun: RunKind {
    static let summary = "a forecaster"
    static let dataKey: String? = "targets"

    static func train(_ options: TrainingOptions) throws { try trainForecaster(options) }

    static func evaluate(_ request: EvaluationRequest) throws {
        try request.refuse([("--beam", request.beam != nil)], for: "a forecasting run")
        let split = request.split ?? "test"
        guard ["train", "valid", "test"].contains(split) else { throw ValidationError("--split must be train, valid or test, got '\(split)'") }
        guard split == "test" else { throw CommandFailure("--split \(split): a forecasting run is evaluated on its test period") }
        try evaluateForecaster(config: request.config, run: request.output, windows: request.windows)
    }
}

/// `glance train` on a forecasting configuration.
func trainForecaster(_ options: TrainingOptions) throws {
    let configuration = try options.configuration(ForecastingConfiguration.self)
    let trainer = try ForecastingTrainer(configuration: configuration)
    let m = configuration.model, data = trainer.task.dataset
    try options.train(trainer, description: "model: \(trainer.model.parameterCount()) parameters, \(m.layers) layers, d_model \(m.modelDimensions), "
                      + "attention \(m.attention), \(m.likelihood.rawValue) likelihood, context \(m.context), horizon \(m.horizon); data: "
                      + "\(data.seriesCount) series × \(data.rows) rows every \(data.table.interval) s "
                      + "(\(data.splits.train.count)/\(data.splits.validation.count)/\(data.splits.test.count) train/valid/test)")
}

/// The trained forecaster of a run: the configuration with its run folder's checkpoint.
func trainedForecaster(config: String, run: String?, evaluationWindows: Int? = nil) throws -> ForecastingTrainer {
    var configuration = try loadConfiguration(ForecastingConfiguration.self, from: URL(fileURLWithPath: config))
    if let run { configuration.output = run }
    if let evaluationWindows { configuration.data.evaluationWindows = evaluationWindows }
    let trainer = try ForecastingTrainer(configuration: configuration)
    try trainer.resume()
    return trainer
}

/// `glance eval` on a forecasting run: R0.5, R0.9, MAE and sMAPE of the model and of the
/// seasonal-naive baseline over the rolling test windows (`data.samples` sample paths, seed 0).
func evaluateForecaster(config: String, run: String?, windows: Int?) throws {
    let trainer = try trainedForecaster(config: config, run: run, evaluationWindows: windows)
    let task = trainer.task, horizon = task.configuration.model.horizon
    let report = try task.evaluateTest(horizon: horizon, samples: task.configuration.data.samples, seed: 0)
    print("test: \(report.windows) rolling windows of \(horizon) steps (\(task.dataset.seriesCount) series), \(report.samples) samples, step \(trainer.step)")
    for (name, score) in [("model (\(task.configuration.model.attention))", report.model), ("seasonal naive (\(report.season) steps back)", report.seasonalNaive)] {
        print(String(format: "%@: R0.5 %.4f  R0.9 %.4f  MAE %.4g  sMAPE %.2f%%", name, score.risk(0.5), score.risk(0.9),
                     score.meanAbsoluteError, score.symmetricMAPE))
    }
}
