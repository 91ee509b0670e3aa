/// The seasonal-naive forecast: each step repeats the value one season earlier (a week of
/// half-hours for half-hourly data), for horizons up to a season; longer ones repeat the last
/// known season again.
public enum SeasonalNaive {
    /// The forecast of `series` for rows `start ..< start + horizon`, from rows before `start`.
    public static func forecast(_ series: [Float], start: Int, horizon: Int, season: Int) -> [Float] {
        precondition(season >= 1 && start >= season, "a season of \(season) rows before row \(start) is needed")
        return (0..<horizon).map { series[start - season + $0 % season] }
    }

    /// Rows in a week at `interval` seconds per row (at least 1).
    public static func weeklySeason(interval: Int64) -> Int { Swift.max(1, Int(7 * 86_400 / interval)) }
}
