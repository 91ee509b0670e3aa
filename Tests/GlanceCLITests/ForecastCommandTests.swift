import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct ForecastCommandTests {
    /// `rows` hourly rows from 2024-01-01 of a daily cycle (load) and a temperature.
    static func series(rows: Int, skipping skipped: Set<Int> = [], badValueAt bad: Int? = nil) -> String {
        "timestamp,load,temperature\n" + (0..<rows).filter { !skipped.contains($0) }.map { i in
            let load = bad == i ? "high" : String(format: "%.2f", 100 + 30 * sin(Double(i) * 2 * .pi / 24) + Double(i % 7))
            return String(format: "2024-%02d-%02d %02d:00,%@,%.1f\n", 1 + i / 24 / 31, 1 + i / 24 % 31, i % 24, load, 15 + 5 * cos(Double(i) * 2 * .pi / 24))
        }.joined()
    }

    /// A workspace with `series.csv` and a tiny forecasting config (context 24, horizon 6).
    static func workspace(csv: String, horizon: Int = 6, testSteps: Int = 24) throws -> Workspace {
        let workspace = try Workspace()
        try Data(csv.utf8).write(to: workspace.folder.appendingPathComponent("series.csv"))
        let config = """
            {
              "model": {"layers": 1, "d_model": 8, "heads": 2, "dropout": 0, "context": 24, "horizon": \(horizon),
                        "attention": {"type": "logsparse", "qk_kernel": 3}},
              "training": {"batch_size": 4, "steps": 4, "learning_rate": 0.003, "warmup_steps": 1, "log_every": 2, "eval_every": 2},
              "data": {"file": "series.csv", "targets": ["load"], "covariates": ["temperature"], "validation_steps": 24,
                       "test_steps": \(testSteps), "eval_windows": 2, "samples": 8},
              "output": "\(workspace.run.path)"
            }
            """
        try Data(config.utf8).write(to: workspace.config)
        return workspace
    }

    @Test("train, forecast (CSV and a well-formed SVG plot) and eval a tiny forecasting run")
    func endToEnd() throws {
        let workspace = try Self.workspace(csv: Self.series(rows: 320))
        defer { workspace.remove() }
        let train = try glance(["train", "--config", workspace.config.path], in: workspace.folder)
        #expect(train.status == 0, "\(train)")
        #expect(train.standardOutput.contains("gaussian likelihood, context 24, horizon 6") && train.standardOutput.contains("1 series × 320 rows every 3600 s"), "\(train)")
        #expect(train.standardOutput.contains("validation loss"), "\(train)")

        let forecast = try glance(["forecast", "--config", workspace.config.path, "--samples", "5", "--windows", "2", "--plot", "plot.svg", "--output", "forecast.csv"],
                                  in: workspace.folder)
        #expect(forecast.status == 0, "\(forecast)")
        let csv = try String(contentsOf: workspace.folder.appendingPathComponent("forecast.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "timestamp,series,p10,p50,p90,truth" && csv.count == 1 + 2 * 6, "\(csv)")
        let fields = csv[1].split(separator: ",")
        #expect(fields.count == 6 && fields[1] == "load", "\(csv[1])")
        if fields.count == 6, let p10 = Float(fields[2]), let p50 = Float(fields[3]), let p90 = Float(fields[4]) { #expect(p10 <= p50 && p50 <= p90) }
        let svg = try Data(contentsOf: workspace.folder.appendingPathComponent("plot.svg"))
        #expect(XMLParser(data: svg).parse(), "the plot is not well-formed XML")
        #expect(String(decoding: svg, as: UTF8.self).contains("<polygon"))

        let again = try glance(["forecast", "--config", workspace.config.path, "--samples", "5", "--windows", "2", "--output", "again.csv"], in: workspace.folder)
        #expect(again.status == 0, "\(again)")
        #expect(try Data(contentsOf: workspace.folder.appendingPathComponent("again.csv")) == Data(contentsOf: workspace.folder.appendingPathComponent("forecast.csv")),
                "the same seed gives the same forecasts")

        let eval = try glance(["eval", "--config", workspace.config.path], in: workspace.folder)
        #expect(eval.status == 0, "\(eval)")
        #expect(eval.standardOutput.contains("test: 2 rolling windows of 6 steps") && eval.standardOutput.contains("R0.5")
                && eval.standardOutput.contains("seasonal naive (168 steps back)") && eval.standardOutput.contains("sMAPE"), "\(eval)")

        let long = try glance(["forecast", "--config", workspace.config.path, "--horizon", "7"], in: workspace.folder)
        #expect(long.status != 0 && long.output.contains("--horizon 7 is longer than the model's horizon 6"), "\(long)")
    }

    @Test("bad series files and splits fail with the file, row, column or field")
    func badInput() throws {
        let cases: [(csv: String, horizon: Int, testSteps: Int, expected: [String])] = [
            (Self.series(rows: 320, skipping: [40, 41, 100]), 6, 24, ["series.csv", "3 timestamps missing", "after row 41", "never filled"]),
            (Self.series(rows: 320, badValueAt: 77), 6, 24, ["series.csv", "row 79, column 'load': 'high' is not a number"]),
            (Self.series(rows: 320), 400, 400, ["'model.horizon' is 400 steps, longer than the series of 320 rows"]),
            (Self.series(rows: 60), 6, 24, ["'model.context' 24 + model.horizon 6 = 30 rows make one training window, but the series has 12 training rows"]),
        ]
        for (csv, horizon, testSteps, expected) in cases {
            let workspace = try Self.workspace(csv: csv, horizon: horizon, testSteps: testSteps)
            defer { workspace.remove() }
            let result = try glance(["train", "--config", workspace.config.path], in: workspace.folder)
            #expect(result.status != 0, "\(result)")
            for text in expected { #expect(result.standardError.contains(text), "\(text) in \(result)") }
        }
    }
}
