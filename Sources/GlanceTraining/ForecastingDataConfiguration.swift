import GlanceData
import GlanceModels

extension ForecasterConfiguration: RunModelConfiguration {}

/// The data section of a forecasting run: a series CSV file (``GlanceData/TimeSeriesTable``'s
/// layout), its target columns (one series each), covariate columns, and the splits by time:
/// the last `test_steps` rows are the test period, the `validation_steps` before them validation.
public struct ForecastingDataConfiguration: RunDataConfiguration, Sendable {
    public typealias Model = ForecasterConfiguration

    public var file: String
    /// The timestamp column's name.
    public var timestamp = "timestamp"
    public var targets: [String]
    /// Numeric columns read as covariates at every step (temperature, a holiday flag, …).
    public var covariates: [String] = []
    public var validationSteps: Int
    public var testSteps: Int
    /// Rolling windows evaluated in validation and test (the first ones of each split; nil: all).
    public var evaluationWindows: Int? = nil
    /// Sample paths per forecast (quantiles are read from them).
    public var samples = 100
    /// The most sample paths per forecast (config or `--samples`): each window decodes them together.
    public static let sampleLimit = 100_000

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })
    public static let defaultOutput = "runs/forecast"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case file, timestamp, targets, covariates, validationSteps = "validation_steps", testSteps = "test_steps"
        case evaluationWindows = "eval_windows", samples
    }

    public init(file: String, targets: [String], covariates: [String] = [], validationSteps: Int, testSteps: Int) {
        (self.file, self.targets, self.covariates, self.validationSteps, self.testSteps) = (file, targets, covariates, validationSteps, testSteps)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        timestamp = try c.value(.timestamp, default: "timestamp")
        targets = try c.decode([String].self, forKey: .targets)
        covariates = try c.value(.covariates, default: [])
        validationSteps = try c.decode(Int.self, forKey: .validationSteps)
        testSteps = try c.decode(Int.self, forKey: .testSteps)
        evaluationWindows = try c.decodeIfPresent(Int.self, forKey: .evaluationWindows)
        samples = try c.value(.samples, default: 100)
    }

    /// The model's fields and this section's (the series' lengths are checked when the file is read).
    public func validate(model: ForecasterConfiguration) throws {
        try model.validate()
        if targets.isEmpty { throw ConfigurationValueError(field: "data.targets", reason: "must name at least one column") }
        let columns = targets + covariates + [timestamp]
        if let repeated = columns.first(where: { name in columns.filter { $0 == name }.count > 1 }) {
            throw ConfigurationValueError(field: "data.covariates", reason: "column '\(repeated)' is named twice among timestamp, targets and covariates")
        }
        for (field, value) in [("validation_steps", validationSteps), ("test_steps", testSteps), ("samples", samples)] where value < 1 {
            throw ConfigurationValueError(field: "data.\(field)", reason: "must be at least 1, got \(value)")
        }
        if samples > Self.sampleLimit { throw ConfigurationValueError(field: "data.samples", reason: "must be at most \(Self.sampleLimit), got \(samples)") }
        if let evaluationWindows, evaluationWindows < 1 {
            throw ConfigurationValueError(field: "data.eval_windows", reason: "must be at least 1, got \(evaluationWindows)")
        }
    }
}

/// `glance train` with a forecasting configuration (a data section with `targets`).
public typealias ForecastingConfiguration = RunConfiguration<ForecastingDataConfiguration>
