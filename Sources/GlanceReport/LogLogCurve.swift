import Foundation

/// A measured quantity against length, read on log-log axes: straight segments between the
/// measured points, the end segments continued beyond them.
public struct LogLogCurve: Sendable {
    /// (length, value) with positive values, by increasing length.
    public let points: [(x: Double, y: Double)]

    public init(_ points: [(x: Double, y: Double)]) {
        self.points = points.filter { $0.x > 0 && $0.y > 0 }.sorted { $0.x < $1.x }
    }

    /// A prediction: the value, and whether it lies outside the measured lengths.
    public struct Prediction: Sendable, Equatable {
        public let value: Double
        /// Beyond the largest (or below the smallest) measured length.
        public let isExtrapolated: Bool
    }

    /// The value at `x`: interpolated on log-log between the neighbouring points, or the
    /// nearest end segment continued (one point: that value, flagged extrapolated unless `x` is it).
    public func value(at x: Double) -> Prediction? {
        guard let first = points.first, let last = points.last, x > 0 else { return nil }
        if points.count == 1 { return Prediction(value: first.y, isExtrapolated: x != first.x) }
        let upper = points.firstIndex { $0.x >= x } ?? points.count - 1
        let index = Swift.max(1, upper)
        let (a, b) = (points[index - 1], points[index])
        let slope = (log(b.y) - log(a.y)) / (log(b.x) - log(a.x))
        return Prediction(value: exp(log(a.y) + slope * (log(x) - log(a.x))), isExtrapolated: x > last.x || x < first.x)
    }

    /// Where this curve first drops to or below `other` going up in length, interpolated on
    /// log-log between the measured lengths both curves share (nil if it never does there).
    /// `.atStart` when it is already at or below `other` at the first shared length.
    public func crossover(below other: LogLogCurve) -> Crossover {
        let shared = points.map(\.x).filter { x in other.points.contains { $0.x == x } }
        let differences = shared.compactMap { x -> (x: Double, d: Double)? in
            guard let mine = points.first(where: { $0.x == x }), let theirs = other.points.first(where: { $0.x == x }) else { return nil }
            return (x, log(mine.y) - log(theirs.y))
        }
        guard let first = differences.first else { return .noSharedLengths }
        if first.d <= 0 { return .atStart(first.x) }
        for (a, b) in zip(differences, differences.dropFirst()) where b.d <= 0 {
            let fraction = a.d / (a.d - b.d)
            return .at(exp(log(a.x) + fraction * (log(b.x) - log(a.x))))
        }
        return .beyond(differences.last!.x)
    }

    /// The length at which one mechanism starts to pay off against another.
    public enum Crossover: Sendable, Equatable {
        /// Crosses at this (interpolated) length.
        case at(Double)
        /// Already at or below at the first shared length.
        case atStart(Double)
        /// Still above at the last shared length.
        case beyond(Double)
        case noSharedLengths

        /// In words, e.g. "≈ 2,900", "≤ 512", "> 65,536".
        public var text: String {
            switch self {
            case let .at(x): return "≈ \(groupedInteger(x))"
            case let .atStart(x): return "≤ \(groupedInteger(x))"
            case let .beyond(x): return "> \(groupedInteger(x))"
            case .noSharedLengths: return "–"
            }
        }
    }
}

/// `x` rounded to an integer with thousands separators (2900.4 → "2,900").
public func groupedInteger(_ x: Double) -> String {
    let rounded = Int(x.rounded())
    guard rounded >= 0 else { return "-" + groupedInteger(Double(-rounded)) }
    let digits = String(rounded)
    var groups: [Substring] = []
    var end = digits.endIndex
    while end > digits.startIndex {
        let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
        groups.insert(digits[start..<end], at: 0)
        end = start
    }
    return groups.joined(separator: ",")
}
