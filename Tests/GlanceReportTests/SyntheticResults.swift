import Foundation
import GlanceReport

/// A results file of made-up figures: exact attention quadratic in time and memory, Performer
/// and Linformer linear, Transformer-XL causal only; Linformer bidirectional only.
func syntheticResults(lengths: [Int] = [1024, 2048, 4096, 8192]) -> SuiteResults {
    let machine = MachineDescription(cpu: "Test CPU", cores: 4, memoryBytes: 16 << 30, blasKernels: "Haswell", blasConfiguration: "OpenBLAS 0.3",
                                     gemmGflops: 100, gemmSize: 1024, threads: 4, gitCommit: "abc", glanceVersion: "0.1.0")
    var results = SuiteResults(machine: machine, settings: SuiteSettings(lengths: lengths, timeLimitSeconds: 60, memoryLimitBytes: 8 << 30,
                                                                           repeats: 1, batch: 1, heads: 8, headDimensions: 64, reference: nil),
                               started: "2026-12-02T07:00:00Z")
    func add(_ mechanism: String, _ workload: Workload, time: (Double) -> Double, memory: (Double) -> Double, implementation: Implementation = .glance) {
        for n in lengths {
            results.measurements.append(SuiteMeasurement(implementation: implementation, mechanism: mechanism, options: "{}", workload: workload, length: n,
                                                         milliseconds: time(Double(n)), peakResidentBytes: Int(memory(Double(n))), wallSeconds: 1))
        }
    }
    for workload in Workload.all {
        let factor = workload.backward ? 3.0 : 1.0
        add("full", workload, time: { factor * $0 * $0 / 1e5 }, memory: { 1e7 + 16 * $0 * $0 })
        add("full", workload, time: { factor * $0 * $0 / 2e5 }, memory: { 7e8 + 16 * $0 * $0 }, implementation: .reference)
        add("performer", workload, time: { factor * $0 / 50 }, memory: { 1e7 + 4e4 * $0 })
        if workload.causal {
            add("transformer_xl", workload, time: { factor * $0 * $0 / 8e4 }, memory: { 1e7 + 20 * $0 * $0 })
            results.stops.append(SuiteStop(implementation: .glance, mechanism: "linformer", workload: workload, length: lengths[0], kind: .unsupported,
                                           reason: "the linformer attention mechanism does not support causal"))
        } else {
            add("linformer", workload, time: { factor * $0 / 80 }, memory: { 1e7 + 3e4 * $0 })
            results.stops.append(SuiteStop(implementation: .glance, mechanism: "transformer_xl", workload: workload, length: lengths[0], kind: .unsupported,
                                           reason: "always causal: not a bidirectional mechanism"))
        }
    }
    for (mechanism, setting, error) in [("performer", "features", 0.05), ("linformer", "k", 0.3)] {
        for causal in [false, true] where !(mechanism == "linformer" && causal) {
            results.fidelity.append(FidelityMeasurement(mechanism: mechanism, setting: setting, value: 256, isDefault: true, length: 1024, causal: causal,
                                                        relativeError: error, standardError: 0.01))
            results.fidelity.append(FidelityMeasurement(mechanism: mechanism, setting: setting, value: 64, isDefault: false, length: 1024, causal: causal,
                                                        relativeError: error * 2, standardError: nil))
        }
    }
    return results
}
