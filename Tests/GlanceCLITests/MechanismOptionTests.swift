import Foundation
import GlanceCore
import GlanceTestSupport
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
        (["--mechanism", "longformer", "--window", "7"], "--window"),
        (["--mechanism", "longformer", "--window", "-2"], "--window"),
        (["--mechanism", "longformer", "--global", "65"], "--global"),
        (["--mechanism", "longformer", "--global", "2", "--causal"], "--global"),
        (["--mechanism", "full", "--global", "2"], "--global"),
        (["--mechanism", "performer", "--window", "8"], "--window"),
        (["--mechanism", "longformer", "--dilation", "0"], "--dilation"),
        (["--mechanism", "longformer", "--dilation", "1,2,3"], "--dilation"),
        (["--mechanism", "reformer", "--reversible"], "--model-depth"),
        (["--mechanism", "reformer", "--model-depth", "0"], "--model-depth"),
        (["--mechanism", "reformer", "--model-depth", "2", "--feed-forward-chunk", "0"], "--feed-forward-chunk"),
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
        ["--mechanism", "longformer", "--window", "16", "--global", "2"],
        ["--mechanism", "longformer", "--window", "8", "--causal", "--dilation", "1,1,1,1,2,2,2,2"],
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
        if options[1] == "longformer" {
            #expect(object["window"] as? Int == Int(options[3]) && object["global"] != nil, "\(result.standardOutput)")
        }
    }

    @Test("--model-depth runs a whole stack; the reversible backward's gradients equal the stored stack's")
    func reversibleStack() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--mechanism", "reformer", "--hashes", "2", "--chunk", "8", "--causal", "--length", "64", "--heads", "2",
                                 "--head-dim", "8", "--model-depth", "3", "--reversible", "--feed-forward-chunk", "16", "--check-gradients",
                                 "--repeat", "1", "--json"], in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["depth"] as? Int == 3 && object["reversible"] as? Bool == true, "\(result.standardOutput)")
        #expect(object["peak_rss_bytes"] as? Int ?? 0 > 0 && object["weight_and_gradient_bytes"] as? Int ?? 0 > 0)
        #expect(try #require(object["gradient_relative_error"] as? Double) < 1e-4, "\(result.standardOutput)")
    }

    @Test("--fidelity of longformer falls as the window grows, to zero when it covers the sequence")
    func longformerFidelity() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        var errors: [Double] = []
        for window in ["8", "32", "128"] {
            let result = try glance(["bench", "--mechanism", "longformer", "--length", "64", "--window", window, "--fidelity", "--json"],
                                    in: workspace.folder)
            try #require(result.status == 0, "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            errors.append(try #require(object["fidelity_relative_error"] as? Double))
        }
        #expect(errors[0] > errors[1] && errors[2] < 1e-5, "\(errors)")
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

    /// The Hugging Face checkpoint fixture and its cases (Tests/GlanceAttentionTests/Fixtures).
    static var fixtures: URL { ReferenceFixtures.folder }

    @Test("glance run writes last_hidden_state of a Hugging Face Longformer checkpoint")
    func runLongformer() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let cases = try SafeTensors.read(from: Self.fixtures.appendingPathComponent("longformer_model_cases.safetensors")).tensors
        let ids = cases["padded.input_ids"]!, mask = cases["padded.attention_mask"]!
        func row(_ t: Tensor, _ b: Int) -> String { (0..<t.shape[1]).map { String(Int(t[b, $0].rounded())) }.joined(separator: ",") }
        let out = workspace.folder.appendingPathComponent("out.safetensors")
        let result = try glance(["run", "--model", Self.fixtures.appendingPathComponent("longformer_model").path,
                                 "--input-ids", "\(row(ids, 0));\(row(ids, 1))", "--attention-mask", "\(row(mask, 0));\(row(mask, 1))",
                                 "--global-attention", "0;0,3", "--output", out.path, "--threads", "1"], in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let hidden = try #require(try SafeTensors.read(from: out).tensors["last_hidden_state"])
        let expected = cases["padded.last_hidden_state"]!
        #expect(hidden.shape == expected.shape)
        #expect(relativeError(hidden.scalars, expected.scalars) <= 1e-4)
    }

    @Test("glance run: bad inputs and other checkpoints fail naming the flag or field", arguments: [
        (["--input-ids", "0,5,2", "--global-attention", "3"], "--global-attention"),
        (["--input-ids", "0,5,x"], "--input-ids"),
        (["--input-ids", "0,5,2", "--attention-mask", "1,1"], "--attention-mask"),
        (["--input-ids", "0,500,2"], "input_ids"),
    ])
    func runErrors(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["run", "--model", Self.fixtures.appendingPathComponent("longformer_model").path,
                                 "--output", workspace.folder.appendingPathComponent("o.safetensors").path] + options, in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(named), "\(result)")
    }
}
