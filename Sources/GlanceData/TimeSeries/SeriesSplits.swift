/// Splits of a series by time: training rows first, then validation, then the test period
/// at the end. Windows of the later splits may read earlier rows as their conditioning range.
public struct SeriesSplits: Equatable, Sendable {
    public let train: Range<Int>
    public let validation: Range<Int>
    public let test: Range<Int>

    /// The last `testRows` rows for test, the `validationRows` before them for validation.
    /// Throws ``TimeSeriesError/tooShort(path:field:reason:)`` naming `data.test_steps`,
    /// `data.validation_steps`, `model.horizon` or `model.context` when a split cannot hold one
    /// forecast of `horizon` steps or the training rows cannot hold one window of
    /// `context + horizon` rows.
    public init(rows: Int, validationRows: Int, testRows: Int, context: Int, horizon: Int, path: String) throws {
        if horizon > rows {
            throw TimeSeriesError.tooShort(path: path, field: "model.horizon", reason: "is \(horizon) steps, longer than the series of \(rows) rows")
        }
        for (field, value) in [("data.test_steps", testRows), ("data.validation_steps", validationRows)] where value < horizon {
            throw TimeSeriesError.tooShort(path: path, field: field, reason: "is \(value) rows, shorter than one forecast of model.horizon \(horizon) steps")
        }
        let trainRows = rows - validationRows - testRows
        guard trainRows >= context + horizon else {
            throw TimeSeriesError.tooShort(path: path, field: "model.context",
                                           reason: "\(context) + model.horizon \(horizon) = \(context + horizon) rows make one training window, but the "
                                            + "series has \(Swift.max(trainRows, 0)) training rows (\(rows) rows − data.validation_steps \(validationRows) − data.test_steps \(testRows))")
        }
        train = 0..<trainRows
        validation = trainRows..<(trainRows + validationRows)
        test = (trainRows + validationRows)..<rows
    }
}
