/// A wall-clock time in whole seconds since 1970-01-01 00:00:00, without a time zone: what a
/// series' timestamp column holds. Reads `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS`
/// (a `T` may replace the space, a trailing `Z` is allowed); writes `YYYY-MM-DD HH:MM:SS`.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    /// The time `text` writes, or nil when it is not one of the accepted forms.
    public init?(parsing text: Substring) {
        var bytes = Array(text.utf8)
        if bytes.last == UInt8(ascii: "Z") { bytes.removeLast() }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        var hour = 0, minute = 0, second = 0
        if bytes.count > 10 {
            guard bytes.count == 16 || bytes.count == 19, bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
                  bytes[13] == UInt8(ascii: ":"), let h = number(11..<13), let m = number(14..<16), h < 24, m < 60 else { return nil }
            (hour, minute) = (h, m)
            if bytes.count == 19 {
                guard bytes[16] == UInt8(ascii: ":"), let s = number(17..<19), s < 60 else { return nil }
                second = s
            }
        }
        let days = Int64(Self.daysSinceEpoch(year: year, month: month, day: day))
        seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Seconds since midnight.
    public var secondOfDay: Int { Int(((seconds % 86_400) + 86_400) % 86_400) }

    /// Day of the week, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
    public var weekday: Int { Int((((seconds - Int64(secondOfDay)) / 86_400 + 3) % 7 + 7) % 7) }

    /// `YYYY-MM-DD HH:MM:SS`.
    public var description: String {
        let days = Int((seconds - Int64(secondOfDay)) / 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let s = secondOfDay
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let yearText = String(repeating: "0", count: Swift.max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day)) \(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (March-based years, so that the leap day ends a year).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `daysSinceEpoch` days after 1970-01-01 (inverse of ``daysSinceEpoch(year:month:day:)``).
    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
