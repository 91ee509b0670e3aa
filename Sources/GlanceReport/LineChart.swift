import Foundation
import GlanceData

/// A line chart written as SVG (no scripts): one polyline per series with point markers,
/// linear or logarithmic axes with ticks and grid lines, vertical marks (e.g. crossover
/// lengths) and a legend.
public struct LineChart: Sendable {
    public enum Scale: Sendable, Equatable {
        case linear
        /// Ticks at the powers of `base` (2 for lengths, 10 for times).
        case logarithmic(base: Double)
    }

    public struct Series: Sendable {
        public var label: String
        public var colour: String
        public var dashed: Bool
        public var points: [(x: Double, y: Double)]

        public init(label: String, colour: String, dashed: Bool = false, points: [(x: Double, y: Double)]) {
            (self.label, self.colour, self.dashed, self.points) = (label, colour, dashed, points)
        }
    }

    /// A vertical line at `x` with a label (drawn in the series' colour).
    public struct Mark: Sendable {
        public var x: Double
        public var label: String
        public var colour: String

        public init(x: Double, label: String, colour: String) { (self.x, self.label, self.colour) = (x, label, colour) }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: Scale
    public var yScale: Scale
    public var series: [Series]
    public var marks: [Mark]

    public init(title: String, xLabel: String, yLabel: String, xScale: Scale, yScale: Scale, series: [Series], marks: [Mark] = []) {
        (self.title, self.xLabel, self.yLabel, self.xScale, self.yScale, self.series, self.marks) = (title, xLabel, yLabel, xScale, yScale, series, marks)
    }

    /// Points that the axes can show (positive on a logarithmic axis, finite).
    var plotted: [Series] {
        series.map { s in
            var copy = s
            copy.points = s.points.filter { Self.fits($0.x, xScale) && Self.fits($0.y, yScale) }
            return copy
        }
    }

    /// The axes' ranges: the data's, widened to the enclosing ticks.
    public var xRange: ClosedRange<Double> { Self.range(plotted.flatMap { $0.points.map(\.x) } + marks.map(\.x).filter { Self.fits($0, xScale) }, xScale) }
    public var yRange: ClosedRange<Double> { Self.range(plotted.flatMap { $0.points.map(\.y) }, yScale) }

    /// The tick values of each axis.
    public var xTicks: [Double] { Self.ticks(xRange, xScale) }
    public var yTicks: [Double] { Self.ticks(yRange, yScale) }

    /// The chart as an SVG document of `width` × `height` pixels.
    public func svg(width: Double = 780, height: Double = 460) -> String {
        var document = SVGDocument(width: width, height: height)
        let legendWidth = 240.0
        let left = 78.0, right = width - legendWidth, top = 52.0, bottom = height - 56
        let (xs, ys) = (xRange, yRange)
        func position(_ value: Double, _ range: ClosedRange<Double>, _ scale: Scale, from low: Double, to high: Double) -> Double {
            let (a, b, v) = scale == .linear ? (range.lowerBound, range.upperBound, value) : (log(range.lowerBound), log(range.upperBound), log(value))
            return low + (high - low) * (b > a ? (v - a) / (b - a) : 0.5)
        }
        func x(_ value: Double) -> Double { position(value, xs, xScale, from: left, to: right) }
        func y(_ value: Double) -> Double { position(value, ys, yScale, from: bottom, to: top) }

        document.text(title, at: (left, 20), size: 15)
        for tick in xTicks {
            document.line(from: (x(tick), top), to: (x(tick), bottom), stroke: "#ececec")
            document.text(Self.label(tick), at: (x(tick), bottom + 18), size: 11, anchor: "middle")
        }
        for tick in yTicks {
            document.line(from: (left, y(tick)), to: (right, y(tick)), stroke: "#ececec")
            document.text(Self.label(tick), at: (left - 6, y(tick) + 4), size: 11, anchor: "end")
        }
        document.line(from: (left, bottom), to: (right, bottom), stroke: "#555")
        document.line(from: (left, top), to: (left, bottom), stroke: "#555")
        document.text(xLabel, at: ((left + right) / 2, bottom + 40), size: 12, anchor: "middle")
        document.text(yLabel, at: (8, top - 10), size: 12)
        for (index, mark) in marks.enumerated() where Self.fits(mark.x, xScale) {
            let position = x(mark.x), onRight = position > (left + right) / 2
            document.polyline([(position, top), (position, bottom)], stroke: mark.colour, width: 1, dash: "2 3")
            document.text(mark.label, at: (position + (onRight ? -3 : 3), top + 12 + 12 * Double(index)), size: 10,
                          anchor: onRight ? "end" : "start", fill: mark.colour)
        }
        for s in plotted {
            let points = s.points.map { (x: x($0.x), y: y($0.y)) }
            document.polyline(points, stroke: s.colour, width: 2, dash: s.dashed ? "6 4" : nil)
            for point in points {
                document.polygon([(point.x - 2.5, point.y), (point.x, point.y - 2.5), (point.x + 2.5, point.y), (point.x, point.y + 2.5)],
                                 fill: s.colour, opacity: 1)
            }
        }
        for (index, s) in series.enumerated() {
            let row = top + 6 + Double(index) * 18
            document.polyline([(right + 14, row), (right + 40, row)], stroke: s.colour, width: 2, dash: s.dashed ? "6 4" : nil)
            document.text(s.label, at: (right + 46, row + 4), size: 11)
        }
        if plotted.allSatisfy(\.points.isEmpty) { document.text("no measurements", at: ((left + right) / 2, (top + bottom) / 2), anchor: "middle") }
        return document.text
    }

    static func fits(_ value: Double, _ scale: Scale) -> Bool { value.isFinite && (scale == .linear || value > 0) }

    static func range(_ values: [Double], _ scale: Scale) -> ClosedRange<Double> {
        guard var low = values.min(), var high = values.max() else { return scale == .linear ? 0...1 : 1...10 }
        switch scale {
        case let .logarithmic(base):
            low = pow(base, (log(low) / log(base) + 1e-9).rounded(.down))
            high = pow(base, (log(high) / log(base) - 1e-9).rounded(.up))
            if high <= low { high = low * base }
        case .linear:
            if high == low { (low, high) = (low - 1, high + 1) }
            let step = niceStep((high - low) / 5)
            (low, high) = ((low / step).rounded(.down) * step, (high / step).rounded(.up) * step)
        }
        return low...high
    }

    static func ticks(_ range: ClosedRange<Double>, _ scale: Scale) -> [Double] {
        switch scale {
        case let .logarithmic(base):
            let first = Int((log(range.lowerBound) / log(base)).rounded()), last = Int((log(range.upperBound) / log(base)).rounded())
            let every = Swift.max(1, (last - first + 9) / 10)
            return stride(from: first, through: last, by: every).map { pow(base, Double($0)) }
        case .linear:
            let step = niceStep((range.upperBound - range.lowerBound) / 5)
            return stride(from: range.lowerBound, through: range.upperBound + step / 2, by: step).map { ($0 / step).rounded() * step }
        }
    }

    /// 1, 2 or 5 times a power of ten, near `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0 else { return 1 }
        let power = pow(10, log10(rough).rounded(.down)), fraction = rough / power
        return (fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10) * power
    }

    /// A tick's text: integers with thousands separators, multiples of 1,024 from 4,096 as "4K",
    /// other numbers with up to three significant digits.
    static func label(_ value: Double) -> String {
        if value >= 4096, value.truncatingRemainder(dividingBy: 1024) == 0, value < 1e9 { return "\(Int(value / 1024))K" }
        if value == value.rounded(), abs(value) < 1e9 { return groupedInteger(value) }
        return String(format: "%.3g", value)
    }
}
