import Foundation

/// A chart of one series' forecasts: the history before them, the truth, the median forecast
/// and the band between two quantiles (10–90 %), with value and time axes and a legend.
public struct ForecastPlot {
    public var title: String
    public var history: [(time: Timestamp, value: Float)]
    public var truth: [(time: Timestamp, value: Float)]
    /// (time, low quantile, median, high quantile) per forecast step, in time order.
    public var forecast: [(time: Timestamp, low: Float, median: Float, high: Float)]
    /// The band's legend, e.g. "10–90 %".
    public var bandLabel: String

    public init(title: String, history: [(time: Timestamp, value: Float)], truth: [(time: Timestamp, value: Float)],
                forecast: [(time: Timestamp, low: Float, median: Float, high: Float)], bandLabel: String = "10–90 %") {
        (self.title, self.history, self.truth, self.forecast, self.bandLabel) = (title, history, truth, forecast, bandLabel)
    }

    /// The chart as an SVG document of `width` × `height` pixels.
    public func svg(width: Double = 960, height: Double = 400) -> String {
        var document = SVGDocument(width: width, height: height)
        let left = 70.0, right = width - 20, top = 56.0, bottom = height - 50
        let times = history.map(\.time.seconds) + truth.map(\.time.seconds) + forecast.map(\.time.seconds)
        let values = history.map(\.value) + truth.map(\.value) + forecast.flatMap { [$0.low, $0.high] }
        guard let firstTime = times.min(), let lastTime = times.max(), let lowest = values.min(), let highest = values.max() else {
            document.text(title + " (nothing to plot)", at: (left, top), size: 14)
            return document.text
        }
        let span = Swift.max(Double(highest - lowest), 1e-6), low = Double(lowest) - 0.05 * span, high = Double(highest) + 0.05 * span
        func x(_ time: Timestamp) -> Double { left + (right - left) * Double(time.seconds - firstTime) / Double(Swift.max(lastTime - firstTime, 1)) }
        func y(_ value: Float) -> Double { bottom - (bottom - top) * (Double(value) - low) / (high - low) }

        document.text(title, at: (left, 20), size: 15)
        document.line(from: (left, bottom), to: (right, bottom), stroke: "#555")
        document.line(from: (left, top), to: (left, bottom), stroke: "#555")
        for k in 0...4 {
            let value = low + (high - low) * Double(k) / 4, position = y(Float(value))
            document.line(from: (left, position), to: (right, position), stroke: "#e5e5e5")
            document.text(String(format: "%.4g", value), at: (left - 6, position + 4), size: 11, anchor: "end")
        }
        for k in 0...4 {
            let time = Timestamp(seconds: firstTime + (lastTime - firstTime) * Int64(k) / 4), position = x(time)
            document.line(from: (position, bottom), to: (position, bottom + 5), stroke: "#555")
            document.text(String("\(time)".prefix(16)), at: (position, bottom + 20), size: 11, anchor: k == 0 ? "start" : k == 4 ? "end" : "middle")
        }
        let band = forecast.map { (x($0.time), y($0.high)) } + forecast.reversed().map { (x($0.time), y($0.low)) }
        document.polygon(band, fill: "#4a7fd4", opacity: 0.25)
        document.polyline(history.map { (x($0.time), y($0.value)) }, stroke: "#222")
        document.polyline(truth.map { (x($0.time), y($0.value)) }, stroke: "#222", dash: "4 3")
        document.polyline(forecast.map { (x($0.time), y($0.median)) }, stroke: "#1f4fa8")
        let legend: [(String, String, String?)] = [("history", "#222", nil), ("truth", "#222", "4 3"), ("median forecast", "#1f4fa8", nil)]
        var legendX = left
        for (label, color, dash) in legend {
            document.polyline([(legendX, 36), (legendX + 24, 36)], stroke: color, dash: dash)
            document.text(label, at: (legendX + 30, 40), size: 12)
            legendX += 40 + Double(label.count) * 7
        }
        document.polygon([(legendX, 30), (legendX + 24, 30), (legendX + 24, 42), (legendX, 42)], fill: "#4a7fd4", opacity: 0.25)
        document.text(bandLabel + " band", at: (legendX + 30, 40), size: 12)
        return document.text
    }
}
