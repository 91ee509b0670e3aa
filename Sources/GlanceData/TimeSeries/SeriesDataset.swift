import Foundation

/// Series ready for a forecaster: the target columns of a ``TimeSeriesTable`` (one series each),
/// the covariates of every row (calendar features, then the covariate columns standardized by
/// their mean and standard deviation over the training rows) and the splits by time.
public struct SeriesDataset: Sendable {
    public let table: TimeSeriesTable
    public let targetNames: [String]
    /// One array of values per target column.
    public let targets: [[Float]]
    public let calendar: [CalendarFeature]
    public let covariateNames: [String]
    /// Covariates [rows, ``featureCount``], row-major.
    public let features: [Float]
    public let splits: SeriesSplits

    /// Reads `targets` and `covariates` of `table` (which must hold them) and splits it.
    public init(table: TimeSeriesTable, targets: [String], covariates: [String], calendar: [CalendarFeature], splits: SeriesSplits) {
        self.table = table
        targetNames = targets
        self.targets = targets.map(table.column)
        self.calendar = calendar
        covariateNames = covariates
        self.splits = splits
        let columns = covariates.map(table.column)
        let width = calendar.count * CalendarFeature.width + columns.count
        var features = [Float](repeating: 0, count: table.count * width)
        let standardization = columns.map { Self.meanAndDeviation($0[splits.train]) }
        for row in 0..<table.count {
            var k = row * width
            for feature in calendar {
                (features[k], features[k + 1]) = feature.values(at: table.timestamps[row])
                k += CalendarFeature.width
            }
            for (column, (mean, deviation)) in zip(columns, standardization) {
                features[k] = (column[row] - mean) / deviation
                k += 1
            }
        }
        self.features = features
    }

    public var seriesCount: Int { targets.count }
    public var featureCount: Int { calendar.count * CalendarFeature.width + covariateNames.count }
    public var rows: Int { table.count }

    /// A batch of `windows`, each `length` rows long, scaled by the first `context` rows.
    public func batch(_ windows: [SeriesWindow], length: Int, context: Int) -> SeriesWindowBatch {
        var values: [Float] = [], covariates: [Float] = [], scales: [Float] = []
        values.reserveCapacity(windows.count * length)
        covariates.reserveCapacity(windows.count * length * featureCount)
        for window in windows {
            precondition(window.start >= 0 && window.start + length <= rows, "window \(window) of \(length) rows outside \(rows) rows")
            let series = targets[window.series]
            values.append(contentsOf: series[window.start..<(window.start + length)])
            covariates.append(contentsOf: features[(window.start * featureCount)..<((window.start + length) * featureCount)])
            scales.append(SeriesScaling.scale(of: series[window.start..<(window.start + context)]))
        }
        return SeriesWindowBatch(values: values, covariates: covariates, series: windows.map(\.series), scales: scales,
                                 length: length, featureCount: featureCount)
    }

    /// Windows whose forecast ranges of `horizon` rows tile `range` from its start (at most
    /// `limit`), each for every series, with the `context` rows before them (which may lie in an
    /// earlier split).
    public func rollingWindows(over range: Range<Int>, context: Int, horizon: Int, limit: Int? = nil) -> [SeriesWindow] {
        var starts = Array(stride(from: range.lowerBound, through: range.upperBound - horizon, by: horizon).filter { $0 >= context })
        if let limit { starts = Array(starts.prefix(limit)) }
        return starts.flatMap { forecastStart in (0..<seriesCount).map { SeriesWindow(series: $0, start: forecastStart - context) } }
    }

    /// The mean and the standard deviation (1 when it is 0) of `values`.
    static func meanAndDeviation(_ values: ArraySlice<Float>) -> (Float, Float) {
        let count = Double(Swift.max(values.count, 1))
        let mean = values.reduce(0.0) { $0 + Double($1) } / count
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / count
        let deviation = variance.squareRoot()
        return (Float(mean), deviation > 0 ? Float(deviation) : 1)
    }
}

/// Rows `start ..< start + length` of series `series`.
public struct SeriesWindow: Equatable, Sendable, Codable {
    public let series: Int
    public let start: Int

    public init(series: Int, start: Int) { (self.series, self.start) = (series, start) }
}

/// A batch of windows: raw values [batch, length], covariates [batch, length, featureCount],
/// the series of each window and its scale (``SeriesScaling``, over its conditioning range).
public struct SeriesWindowBatch: Sendable {
    public let values: [Float]
    public let covariates: [Float]
    public let series: [Int]
    public let scales: [Float]
    public let length: Int
    public let featureCount: Int

    public init(values: [Float], covariates: [Float], series: [Int], scales: [Float], length: Int, featureCount: Int) {
        precondition(values.count == series.count * length && covariates.count == values.count * featureCount && scales.count == series.count,
                     "batch of \(series.count) windows × \(length) rows: \(values.count) values, \(covariates.count) covariates, \(scales.count) scales")
        (self.values, self.covariates, self.series, self.scales, self.length, self.featureCount) = (values, covariates, series, scales, length, featureCount)
    }

    public var count: Int { series.count }

    /// Windows `range` of the batch.
    public func rows(_ range: Range<Int>) -> SeriesWindowBatch {
        SeriesWindowBatch(values: Array(values[(range.lowerBound * length)..<(range.upperBound * length)]),
                          covariates: Array(covariates[(range.lowerBound * length * featureCount)..<(range.upperBound * length * featureCount)]),
                          series: Array(series[range]), scales: Array(scales[range]), length: length, featureCount: featureCount)
    }
}
