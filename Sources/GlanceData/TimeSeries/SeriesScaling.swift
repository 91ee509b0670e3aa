/// Per-series scaling (Li et al. 2019, after DeepAR): a window's values are divided by
/// v = 1 + mean |z| over its conditioning range, and forecasts multiplied back. The absolute
/// value (the paper takes the plain mean of positive series) keeps v ≥ 1 for series that go
/// negative, such as electricity prices.
public enum SeriesScaling {
    /// v = 1 + mean |z| of `conditioning` (1 when it is empty).
    public static func scale<Values: Collection<Float>>(of conditioning: Values) -> Float {
        guard !conditioning.isEmpty else { return 1 }
        return 1 + Float(conditioning.reduce(0.0) { $0 + Double(Swift.abs($1)) } / Double(conditioning.count))
    }

    /// z / v.
    public static func scaled(_ value: Float, by scale: Float) -> Float { value / scale }

    /// z̃ · v: the inverse of ``scaled(_:by:)``.
    public static func unscaled(_ value: Float, by scale: Float) -> Float { value * scale }
}
