import ArgumentParser
import Foundation
import GlanceAttention
import GlanceReport

/// The flags of `glance bench --suite`.
struct SuiteOptions: ParsableArguments {
    @Flag(help: """
        Run the benchmark suite: every registered mechanism (or --mechanisms) with its default options, forward and forward + \
        backward, causal and bidirectional where it supports them, doubling the length through --lengths until a measurement \
        passes --time-limit or the next one's estimated memory passes --memory-limit; each measurement in its own process. \
        Writes one JSON file into --output, rewritten after every measurement (`glance report` and `glance advise` read it). \
        Uses --batch, --heads, --head-dim, --repeat, --threads, --seeds and --size (the GEMM measured first).
        """) var suite = false
    @Option(name: .customLong("lengths"), help: "--suite: lengths FROM...TO (doubling) or a comma-separated list.")
    var suiteLengths = "512...65536"
    @Option(name: .customLong("time-limit"), help: "--suite: seconds; a series stops after a measurement that took longer.")
    var timeLimit = 120.0
    @Option(name: .customLong("memory-limit"), help: "--suite: a series stops before a length whose estimated peak memory is above this (e.g. 8GB, 6GiB; default: half the physical memory).")
    var memoryLimit: String?
    @Option(name: .customLong("output"), help: "--suite: folder of the results file.")
    var output = "benchmarks/results"
    @Option(name: .customLong("mechanisms"), help: "--suite: only these mechanisms, comma-separated (default: every registered one).")
    var mechanisms: String?
    @Option(name: .customLong("reference"), help: """
        --suite: a Python with the reference venv (torch, …): the PyTorch scripts of --reference-scripts run the same shapes, \
        alternating with Glance. MECHANISM=PYTHON gives one mechanism another Python (transformer_xl=/work/venv-txl/bin/python); repeatable.
        """) var reference: [String] = []
    @Option(name: .customLong("reference-scripts"), help: "--suite: folder of the PyTorch reference scripts.")
    var referenceScripts = "benchmarks/pytorch"
    @Option(name: .customLong("fidelity-length"), help: "--suite: the length of the fidelity measurements (Performer, Linformer, Reformer); 0 skips them.")
    var fidelityLength = 1024

    /// The lengths to try, increasing.
    func lengths() throws -> [Int] {
        for separator in ["...", "…"] where suiteLengths.contains(separator) {
            let ends = suiteLengths.components(separatedBy: separator)
            guard ends.count == 2, let from = Int(ends[0].trimmingCharacters(in: .whitespaces)), let to = Int(ends[1].trimmingCharacters(in: .whitespaces)),
                  from >= 1, to >= from, to <= Bench.sizeLimit else {
                throw ValidationError("--lengths must be FROM...TO with 1 ≤ FROM ≤ TO ≤ \(Bench.sizeLimit), or a comma-separated list; got '\(suiteLengths)'")
            }
            return Array(sequence(first: from) { $0 * 2 <= to ? $0 * 2 : nil })
        }
        return Array(Set(try integerList(suiteLengths, flag: "--lengths", minimum: 1, maximum: Bench.sizeLimit))).sorted()
    }

    /// The memory limit in bytes.
    func memoryLimitBytes() throws -> Int {
        guard let memoryLimit else { return Int(ProcessInfo.processInfo.physicalMemory / 2) }
        guard let bytes = parseByteCount(memoryLimit), bytes > 0 else {
            throw ValidationError("--memory-limit must be a size such as 8GB, 6GiB or 500MB, got '\(memoryLimit)'")
        }
        return bytes
    }

    /// The mechanisms to measure.
    func mechanismNames() throws -> [String] {
        guard let mechanisms else { return AttentionRegistry.names }
        let names = mechanisms.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let unknown = names.first(where: { !AttentionRegistry.names.contains($0) }) {
            throw ValidationError("--mechanisms: unknown mechanism '\(unknown)'; known: \(AttentionRegistry.names.joined(separator: ", "))")
        }
        return names
    }

    /// The reference's Python per mechanism ("" for the default), each an executable file.
    func referencePythons() throws -> [String: String] {
        var pythons: [String: String] = [:]
        for item in reference {
            let (name, path) = item.split(separator: "=", maxSplits: 1).count == 2 && !item.hasPrefix("/")
                ? (String(item.prefix { $0 != "=" }), String(item.drop { $0 != "=" }.dropFirst())) : ("", item)
            guard name.isEmpty || AttentionRegistry.names.contains(name) else {
                throw ValidationError("--reference \(item): unknown mechanism '\(name)'; known: \(AttentionRegistry.names.joined(separator: ", "))")
            }
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw ValidationError("--reference \(item): '\(path)' is not an executable Python")
            }
            pythons[name] = path
        }
        if !pythons.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: referenceScripts, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--reference-scripts: '\(referenceScripts)' is not a folder (run from the repository root or give the folder of the PyTorch scripts)")
            }
        }
        return pythons
    }

    func validate() throws {
        guard suite else { return }
        _ = try lengths()
        guard timeLimit > 0 else { throw ValidationError("--time-limit must be positive, got \(timeLimit)") }
        _ = try memoryLimitBytes()
        _ = try mechanismNames()
        _ = try referencePythons()
        guard fidelityLength >= 0 else { throw ValidationError("--fidelity-length must be at least 0, got \(fidelityLength)") }
    }
}
