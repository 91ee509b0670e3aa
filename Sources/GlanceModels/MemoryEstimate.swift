import Foundation

/// The bytes a model or a training step needs, as a sum of products of configuration fields,
/// computed without overflow, so that a size that cannot fit is refused before anything is
/// allocated, with the field that drives it.
public struct MemoryEstimate: Sendable {
    /// One product: `bytesPerElement` × the factors' values.
    public struct Term: Sendable {
        /// What the bytes hold ("parameters and optimizer state of the layers").
        public let what: String
        public let factors: [(field: String, value: Int)]
        public let bytesPerElement: Int

        /// The product, or nil when it exceeds `Int.max`.
        public var bytes: Int? {
            factors.reduce(Optional(bytesPerElement)) { product, factor in
                guard let product else { return nil }
                let (value, overflow) = product.multipliedReportingOverflow(by: factor.value)
                return overflow ? nil : value
            }
        }

        /// The factor with the largest value: the field to change to make the term smaller.
        public var drivingField: String { factors.max { $0.value < $1.value }?.field ?? what }
    }

    public private(set) var terms: [Term] = []

    public init() {}

    /// Adds `bytesPerElement` × the product of `factors`.
    public mutating func add(_ what: String, _ factors: [(field: String, value: Int)], bytesPerElement: Int) {
        terms.append(Term(what: what, factors: factors, bytesPerElement: bytesPerElement))
    }

    /// The sum of the terms, or nil when it exceeds `Int.max`.
    public var bytes: Int? {
        terms.reduce(Optional(0)) { sum, term in
            guard let sum, let bytes = term.bytes else { return nil }
            let (value, overflow) = sum.addingReportingOverflow(bytes)
            return overflow ? nil : value
        }
    }

    /// The memory this process may use: the machine's, or less when an address-space limit
    /// (`ulimit -v`) is lower.
    public static var physicalMemory: Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        var limit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_AS.rawValue)
        #else
        let resource = RLIMIT_AS
        #endif
        guard getrlimit(resource, &limit) == 0 else { return physical }
        return Swift.min(physical, Int(clamping: limit.rlim_cur))
    }

    /// Throws a ``ConfigurationValueError`` naming the field that drives the largest term
    /// when the estimate exceeds `available` bytes.
    public func require(fitting available: Int = physicalMemory) throws {
        if let bytes, bytes <= available { return }
        guard let largest = terms.max(by: { ($0.bytes ?? .max) < ($1.bytes ?? .max) }) else { return }
        let factors = largest.factors.map { "\($0.field) \($0.value)" }.joined(separator: " × ")
        throw ConfigurationValueError(
            field: largest.drivingField,
            reason: "makes the model too large: about \(Self.format(bytes)) are needed, most for the \(largest.what) "
                + "(\(Self.format(largest.bytes)) from \(factors) × \(largest.bytesPerElement) bytes), "
                + "more than this machine's \(Self.format(available)) of memory")
    }

    /// Bytes in binary units ("3.2 GiB"); nil reads as more than 8 EiB.
    static func format(_ bytes: Int?) -> String {
        guard let bytes else { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { (value, unit) = (value / 1024, unit + 1) }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
