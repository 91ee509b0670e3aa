import Foundation
import Testing

/// `glance bench` with the options of the approximate mechanisms: valid runs print the
/// contract's JSON, invalid values end with a message naming the flag.
@Suite struct MechanismOptionTests {
    @Test("bad mechanism options fail with a message naming the flag", arguments: [
        (["--mechanism", "linformer", "--k", "8", "--causal"], "--causal"),
        (["--mechanism", "linformer", "--k", "0"], "--k"),
        (["--mechanism", "linformer", "--k", "128"], "--k 128"),
        (["--mechanism", "performer", "--features", "0"], "--features"),
        (["--mechanism", "performer", "--kernel", "tanh"], "--kernel"),
        (["--mechanism", "logsparse", "--qk-kernel", "0"], "--qk-kernel"),
        (["--mechanism", "logsparse", "--logsparse-window", "-1"], "--logsparse-window"),
        (["--mechanism", "logsparse", "--logsparse-subsequence", "0"], "--logsparse-subsequence"),
        (["--mechanism", "reformer", "--hashes", "0"], "--hashes"),
        (["--mechanism", "reformer", "--chunk", "0"], "--chunk"),
        (["--mechanism", "reformer", "--buckets", "3"], "--buckets"),
    ])
    func badOptions(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--length", "64"] + options, in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(named), "\(result)")
    }

    @Test("linformer, performer, logsparse and reformer benches print the contract's keys", arguments: [
        ["--mechanism", "linformer", "--k", "8"],
        ["--mechanism", "performer", "--features", "16", "--causal"],
        ["--mechanism", "performer", "--features", "16", "--kernel", "relu"],
        ["--mechanism", "logsparse", "--qk-kernel", "3", "--logsparse-window", "2", "--logsparse-subsequence", "16"],
        ["--mechanism", "reformer", "--hashes", "2", "--chunk", "16", "--causal"],
        ["--mechanism", "reformer", "--hashes", "2", "--chunk", "8", "--buckets", "2,4"],
    ])
    func benchRuns(_ options: [String]) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--length", "64", "--repeat", "1", "--backward", "--json"] + options, in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        for key in ["mechanism", "length", "batch", "heads", "head_dim", "causal", "forward_ms", "backward_ms", "peak_rss_bytes", "threads"] {
            #expect(object[key] != nil, "missing \(key) in \(result.standardOutput)")
        }
        #expect(object["mechanism"] as? String == options[1])
    }

    @Test("--fidelity reports a finite error that falls as k grows")
    func fidelity() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        var errors: [Double] = []
        for k in ["8", "64"] {
            let result = try glance(["bench", "--mechanism", "linformer", "--length", "64", "--k", k, "--fidelity", "--json"], in: workspace.folder)
            try #require(result.status == 0, "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            errors.append(try #require(object["fidelity_relative_error"] as? Double))
        }
        #expect(errors.allSatisfy { $0.isFinite } && errors[1] < errors[0], "\(errors)")
    }
}
