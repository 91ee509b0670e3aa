import Foundation

/// The results of one `glance bench --suite` run: the machine, the settings, every measurement
/// (Glance's and the PyTorch reference's), every place a series stopped and why, and the
/// fidelity of the approximating mechanisms. The suite rewrites the file after each
/// measurement, so an interrupted run leaves a valid file (``finished`` stays nil).
public struct SuiteResults: Codable, Sendable {
    /// The file format's name and version.
    public var format = SuiteResults.formatName
    public var machine: MachineDescription
    public var settings: SuiteSettings
    /// ISO 8601 start and end times (no end: the run was interrupted or is still going).
    public var started: String
    public var finished: String?
    public var measurements: [SuiteMeasurement] = []
    public var stops: [SuiteStop] = []
    public var fidelity: [FidelityMeasurement] = []

    public static let formatName = "glance-bench-suite-1"

    public init(machine: MachineDescription, settings: SuiteSettings, started: String) {
        (self.machine, self.settings, self.started) = (machine, settings, started)
    }

    /// Reads a results file; anything else is a ``SuiteResultsError`` naming the file.
    public static func load(from url: URL) throws -> SuiteResults {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SuiteResultsError(file: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let results: SuiteResults
        do {
            results = try JSONDecoder().decode(SuiteResults.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw SuiteResultsError(file: url.path, reason: "lacks '\(key.stringValue)'\(Self.place(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw SuiteResultsError(file: url.path, reason: "has the wrong type at '\(Self.path(context.codingPath))' (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) {
            throw SuiteResultsError(file: url.path, reason: "is not valid JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))")
        } catch {
            throw SuiteResultsError(file: url.path, reason: "is not a results file (\(error))")
        }
        guard results.format == formatName else {
            throw SuiteResultsError(file: url.path, reason: "has format '\(results.format)', expected '\(formatName)'")
        }
        return results
    }

    /// Every results file (`*.json`) in `url`, or the file `url` itself, oldest first.
    public static func loadAll(from url: URL) throws -> [(file: URL, results: SuiteResults)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SuiteResultsError(file: url.path, reason: "does not exist")
        }
        guard isDirectory.boolValue else { return [(url, try load(from: url))] }
        let files = try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { ($0, try load(from: $0)) }
    }

    /// Writes the file whole under a temporary name, then renames it over `url`, so a reader
    /// (or a killed suite) never sees half a file.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        try encoder.encode(self).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw SuiteResultsError(file: url.path, reason: "cannot be written (\(String(cString: strerror(errno))))")
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func place(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "" : " at '\(path(codingPath))'"
    }
}

/// A results file that cannot be used, with the file's path.
public struct SuiteResultsError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "results file \(file) \(reason)" }
}

/// The machine a suite ran on.
public struct MachineDescription: Codable, Sendable {
    /// CPU model (`model name` of /proc/cpuinfo), logical cores and physical memory.
    public var cpu: String
    public var cores: Int
    public var memoryBytes: Int
    /// The BLAS library's kernels (OpenBLAS's core name) and its build configuration.
    public var blasKernels: String
    public var blasConfiguration: String
    /// Single-precision GEMM throughput of a `gemmSize`² product measured at the start.
    public var gemmGflops: Double
    public var gemmSize: Int
    /// Threads every measurement used.
    public var threads: Int
    public var gitCommit: String?
    public var glanceVersion: String

    public init(cpu: String, cores: Int, memoryBytes: Int, blasKernels: String, blasConfiguration: String, gemmGflops: Double,
                gemmSize: Int, threads: Int, gitCommit: String?, glanceVersion: String) {
        (self.cpu, self.cores, self.memoryBytes, self.blasKernels, self.blasConfiguration) = (cpu, cores, memoryBytes, blasKernels, blasConfiguration)
        (self.gemmGflops, self.gemmSize, self.threads, self.gitCommit, self.glanceVersion) = (gemmGflops, gemmSize, threads, gitCommit, glanceVersion)
    }

    enum CodingKeys: String, CodingKey {
        case cpu, cores, memoryBytes = "memory_bytes", blasKernels = "blas_kernels", blasConfiguration = "blas_configuration"
        case gemmGflops = "gemm_gflops", gemmSize = "gemm_size", threads, gitCommit = "git_commit", glanceVersion = "glance_version"
    }
}

/// What a suite measured and its limits.
public struct SuiteSettings: Codable, Sendable {
    public var lengths: [Int]
    public var timeLimitSeconds: Double
    public var memoryLimitBytes: Int
    public var repeats: Int
    public var batch: Int
    public var heads: Int
    public var headDimensions: Int
    /// The reference's Python, when the PyTorch references ran.
    public var reference: String?

    public init(lengths: [Int], timeLimitSeconds: Double, memoryLimitBytes: Int, repeats: Int, batch: Int, heads: Int,
                headDimensions: Int, reference: String?) {
        (self.lengths, self.timeLimitSeconds, self.memoryLimitBytes, self.repeats) = (lengths, timeLimitSeconds, memoryLimitBytes, repeats)
        (self.batch, self.heads, self.headDimensions, self.reference) = (batch, heads, headDimensions, reference)
    }

    enum CodingKeys: String, CodingKey {
        case lengths, timeLimitSeconds = "time_limit_s", memoryLimitBytes = "memory_limit_bytes", repeats, batch, heads
        case headDimensions = "head_dim", reference
    }
}

/// Who computed a measurement.
public enum Implementation: String, Codable, Sendable, CaseIterable {
    case glance, reference
}

/// Which workload a measurement series times: the direction and forward or forward + backward.
public struct Workload: Codable, Sendable, Hashable, CustomStringConvertible {
    public var causal: Bool
    /// Forward + backward (a training step of the layer) instead of forward alone.
    public var backward: Bool

    public init(causal: Bool, backward: Bool) { (self.causal, self.backward) = (causal, backward) }

    public static let all = [false, true].flatMap { causal in [false, true].map { Workload(causal: causal, backward: $0) } }

    public var description: String { (causal ? "causal" : "bidirectional") + (backward ? ", forward + backward" : ", forward") }
}

/// One process's timing of one layer.
public struct SuiteMeasurement: Codable, Sendable {
    public var implementation: Implementation
    public var mechanism: String
    /// The mechanism's options as compact JSON (Glance's names; the reference gets its own flags).
    public var options: String
    public var workload: Workload
    public var length: Int
    /// Median milliseconds of the workload; nil when the run failed.
    public var milliseconds: Double?
    /// Peak resident memory of the measuring process, and (reference) after importing torch.
    public var peakResidentBytes: Int?
    public var baselineResidentBytes: Int?
    /// Wall seconds of the whole process.
    public var wallSeconds: Double
    /// Why the run failed (exit status, signal, message); nil when it succeeded.
    public var failure: String?

    public init(implementation: Implementation, mechanism: String, options: String, workload: Workload, length: Int, milliseconds: Double?,
                peakResidentBytes: Int?, baselineResidentBytes: Int? = nil, wallSeconds: Double, failure: String? = nil) {
        (self.implementation, self.mechanism, self.options, self.workload, self.length) = (implementation, mechanism, options, workload, length)
        (self.milliseconds, self.peakResidentBytes, self.baselineResidentBytes) = (milliseconds, peakResidentBytes, baselineResidentBytes)
        (self.wallSeconds, self.failure) = (wallSeconds, failure)
    }

    public var succeeded: Bool { failure == nil && milliseconds != nil }

    enum CodingKeys: String, CodingKey {
        case implementation, mechanism, options, workload, length, milliseconds = "ms", peakResidentBytes = "peak_rss_bytes"
        case baselineResidentBytes = "baseline_rss_bytes", wallSeconds = "wall_s", failure
    }
}

/// Where and why a series stopped before the suite's largest length, or why it never ran.
public struct SuiteStop: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// The last measurement took longer than the time limit.
        case time
        /// The next length's estimated memory is above the memory limit.
        case memory
        /// A run failed (crash, error, killed).
        case failure
        /// The mechanism cannot serve the workload (e.g. not causal).
        case unsupported
    }

    public var implementation: Implementation
    public var mechanism: String
    public var workload: Workload
    /// The first length not measured.
    public var length: Int
    public var kind: Kind
    public var reason: String

    public init(implementation: Implementation, mechanism: String, workload: Workload, length: Int, kind: Kind, reason: String) {
        (self.implementation, self.mechanism, self.workload, self.length, self.kind, self.reason) = (implementation, mechanism, workload, length, kind, reason)
    }
}

/// The approximation error ‖approx − exact‖/‖exact‖ of a mechanism at one setting of its
/// approximation (Performer's features, Linformer's k, Reformer's hash rounds).
public struct FidelityMeasurement: Codable, Sendable {
    public var mechanism: String
    public var setting: String
    public var value: Int
    /// Whether `value` is what the mechanism's default options give (the setting the suite timed).
    public var isDefault: Bool
    public var length: Int
    public var causal: Bool
    public var relativeError: Double
    public var standardError: Double?

    public init(mechanism: String, setting: String, value: Int, isDefault: Bool, length: Int, causal: Bool, relativeError: Double,
                standardError: Double?) {
        (self.mechanism, self.setting, self.value, self.isDefault, self.length, self.causal) = (mechanism, setting, value, isDefault, length, causal)
        (self.relativeError, self.standardError) = (relativeError, standardError)
    }

    enum CodingKeys: String, CodingKey {
        case mechanism, setting, value, isDefault = "default", length, causal, relativeError = "relative_error", standardError = "standard_error"
    }
}

extension SuiteResults {
    /// The successful measurements of one series, by increasing length.
    public func series(_ implementation: Implementation, _ mechanism: String, _ workload: Workload) -> [SuiteMeasurement] {
        measurements.filter { $0.implementation == implementation && $0.mechanism == mechanism && $0.workload == workload && $0.succeeded }
            .sorted { $0.length < $1.length }
    }

    /// The mechanisms measured or stopped, in the order they first appear.
    public var mechanisms: [String] {
        var seen: [String] = []
        for name in measurements.map(\.mechanism) + stops.map(\.mechanism) where !seen.contains(name) { seen.append(name) }
        return seen
    }
}
