import Foundation

/// Covariates computed from a timestamp, each as a sine and a cosine of its phase so that the
/// end of a cycle meets its start: the time of day and the day of the week.
public enum CalendarFeature: String, CaseIterable, Codable, Sendable {
    case timeOfDay = "time_of_day"
    case dayOfWeek = "day_of_week"

    /// Features per calendar covariate (sine, cosine).
    public static let width = 2

    /// The phase in [0, 1) of `time` in this cycle.
    public func phase(of time: Timestamp) -> Double {
        switch self {
        case .timeOfDay: Double(time.secondOfDay) / 86_400
        case .dayOfWeek: (Double(time.weekday) + Double(time.secondOfDay) / 86_400) / 7
        }
    }

    /// (sin 2πφ, cos 2πφ) of the phase φ of `time`.
    public func values(at time: Timestamp) -> (Float, Float) {
        let angle = 2 * Double.pi * phase(of: time)
        return (Float(Foundation.sin(angle)), Float(Foundation.cos(angle)))
    }
}
