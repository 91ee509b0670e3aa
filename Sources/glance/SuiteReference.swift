import Foundation
import GlanceReport

/// The PyTorch reference of a mechanism in benchmarks/pytorch: its script and, for each
/// Glance option it has a counterpart of, its flag (as benchmarks/compare.py maps them).
struct SuiteReference {
    let script: String
    /// Whether the script takes `--mechanism NAME` (bench_attention.py serves several).
    let takesMechanism: Bool
    let flags: [String: String]
    /// Which workloads the script can time.
    let directions: Directions

    /// Causal and bidirectional attention, or only one of them.
    enum Directions { case both, causalOnly, bidirectionalOnly }

    /// Whether the script can time `workload` (Hugging Face's Longformer layer has no causal
    /// mode; Transformer-XL's relative attention is causal only).
    func serves(_ workload: Workload) -> Bool {
        switch directions {
        case .both: return true
        case .causalOnly: return workload.causal
        case .bidirectionalOnly: return !workload.causal
        }
    }

    static let all: [String: SuiteReference] = [
        "full": .init(script: "bench_attention.py", takesMechanism: true, flags: [:], directions: .both),
        "linformer": .init(script: "bench_attention.py", takesMechanism: true, flags: ["k": "--k", "sharing": "--sharing"], directions: .both),
        "performer": .init(script: "bench_attention.py", takesMechanism: true, flags: ["features": "--features", "kernel": "--kernel"], directions: .both),
        "logsparse": .init(script: "bench_attention.py", takesMechanism: true,
                           flags: ["qk_kernel": "--qk-kernel", "window": "--logsparse-window", "subsequence": "--logsparse-subsequence"], directions: .both),
        "reformer": .init(script: "bench_attention.py", takesMechanism: true,
                          flags: ["hashes": "--hashes", "chunk_length": "--chunk", "buckets": "--buckets"], directions: .both),
        "longformer": .init(script: "bench_attention.py", takesMechanism: true, flags: ["window": "--window", "dilation": "--dilation"],
                            directions: .bidirectionalOnly),
        "transformer_xl": .init(script: "bench_transformer_xl.py", takesMechanism: false, flags: [:], directions: .causalOnly),
    ]

    /// The script's command line for one measurement; `options` are the mechanism's options
    /// as Glance reports them (those without a counterpart are left to the script's default).
    func arguments(folder: String, mechanism: String, options: [String: Any], workload: Workload, length: Int, batch: Int, heads: Int,
                   headDimensions: Int, threads: Int, repeats: Int) -> [String] {
        var arguments = [(folder as NSString).appendingPathComponent(script)]
        if takesMechanism { arguments += ["--mechanism", mechanism] }
        arguments += ["--length", "\(length)", "--batch", "\(batch)", "--heads", "\(heads)", "--head-dim", "\(headDimensions)",
                      "--threads", "\(threads)", "--repeat", "\(repeats)"]
        if workload.causal && directions == .both { arguments.append("--causal") }
        if workload.backward { arguments.append("--backward") }
        for (name, flag) in flags.sorted(by: { $0.key < $1.key }) {
            switch options[name] {
            case let list as [Any]: arguments += [flag, list.map { "\($0)" }.joined(separator: ",")]
            case let value as String: arguments += [flag, value]
            case let value as NSNumber: arguments += [flag, value.stringValue]
            default: continue
            }
        }
        return arguments
    }
}
