import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// `glance bench` with the mechanisms' options (`--option NAME=VALUE`, `--attention JSON`):
/// valid runs print the contract's JSON with the options used, invalid values end with a
/// message naming the option and, for an option of another mechanism, the mechanism.
@Suite struct MechanismOptionTests {
    @Test("bad mechanism options fail with a message naming the option", arguments: [
        (["--mechanism", "linformer", "--option", "k=8", "--causal"], "does not support causal attention"),
        (["--mechanism", "linformer", "--option", "k=0"], "'k' must be between 1 and the maximum length (64), got 0"),
        (["--mechanism", "linformer", "--option", "k=128"], "'k'"),
        (["--mechanism", "linformer", "--option", "sharing=diagonal"], "'sharing'"),
        (["--mechanism", "performer", "--option", "features=0"], "'features'"),
        (["--mechanism", "performer", "--option", "features=many"], "'features' has the wrong type"),
        (["--mechanism", "performer", "--option", "kernel=tanh"], "'kernel' must be one of softmax, relu"),
        (["--mechanism", "performer", "--option", "redraw_every=0"], "'redraw_every'"),
        (["--mechanism", "logsparse", "--option", "qk_kernel=0"], "'qk_kernel'"),
        (["--mechanism", "logsparse", "--option", "window=-1"], "'window'"),
        (["--mechanism", "logsparse", "--option", "subsequence=0"], "'subsequence'"),
        (["--mechanism", "reformer", "--option", "hashes=0"], "'hashes'"),
        (["--mechanism", "reformer", "--option", "chunk_length=0"], "'chunk_length'"),
        (["--mechanism", "reformer", "--option", "buckets=3"], "'buckets'"),
        (["--mechanism", "longformer", "--option", "window=7"], "'window'"),
        (["--mechanism", "longformer", "--option", "window=-2"], "'window'"),
        (["--mechanism", "longformer", "--option", "dilation=0"], "'dilation'"),
        (["--mechanism", "longformer", "--option", "dilation=[1,2,3]"], "'dilation'"),
        (["--mechanism", "full", "--option", "k=8"], "'k' is not an option of the full attention mechanism (its options: none)"),
        (["--mechanism", "performer", "--option", "window=8"], "'window' is not an option of the performer attention mechanism"),
        (["--mechanism", "performer", "--option", "features"], "NAME=VALUE"),
        (["--mechanism", "performer", "--option", "features=8", "--option", "features=16"], "twice"),
        (["--mechanism", "nope"], "unknown mechanism 'nope'"),
        (["--attention", #"{"type": "performer", "k": 8}"#], "--attention: 'k' is not an option of the performer attention mechanism"),
        (["--attention", #"{"type": "linformer", "k": 0}"#], "--attention: 'k'"),
        (["--attention", "{"], "--attention"),
        (["--attention", #""full""#, "--mechanism", "performer"], "--attention"),
        (["--mechanism", "longformer", "--global-tokens", "65"], "--global-tokens"),
        (["--mechanism", "longformer", "--global-tokens", "2", "--causal"], "--global-tokens"),
        (["--mechanism", "full", "--global-tokens", "2"], "the full attention mechanism does not support global tokens"),
        (["--mechanism", "performer", "--memory", "8"], "the performer attention mechanism does not support memory"),
        (["--mechanism", "full", "--memory", "-1"], "--memory"),
        (["--mechanism", "full", "--memory", "8", "--fidelity"], "--memory applies to the timing of one layer"),
        (["--mechanism", "reformer", "--reversible"], "--model-depth"),
        (["--mechanism", "reformer", "--model-depth", "0"], "--model-depth"),
        (["--mechanism", "reformer", "--model-depth", "2", "--feed-forward-chunk", "0"], "--feed-forward-chunk"),
    ])
    func badOptions(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--length", "64", "--repeat", "1"] + options, in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(named), "\(result)")
    }

    @Test("every mechanism benches with its options and reports them", arguments: [
        (["--mechanism", "linformer", "--option", "k=8"], #"{"k":8,"sharing":"headwise"}"#),
        (["--mechanism", "performer", "--option", "features=16", "--causal"], #"{"features":16,"kernel":"softmax","orthogonal":true}"#),
        (["--mechanism", "performer", "--option", "features=16", "--option", "kernel=relu"], #"{"features":16,"kernel":"relu","orthogonal":true}"#),
        (["--mechanism", "logsparse", "--option", "qk_kernel=3", "--option", "window=2", "--option", "subsequence=16"],
         #"{"qk_kernel":3,"subsequence":16,"window":2}"#),
        (["--mechanism", "reformer", "--option", "hashes=2", "--option", "chunk_length=16", "--causal"],
         #"{"chunk_length":16,"chunks_after":0,"chunks_before":1,"hashes":2}"#),
        (["--mechanism", "reformer", "--option", "hashes=2", "--option", "chunk_length=8", "--option", "buckets=[2,4]"],
         #"{"buckets":[2,4],"chunk_length":8,"chunks_after":0,"chunks_before":1,"hashes":2}"#),
        (["--mechanism", "longformer", "--option", "window=16", "--global-tokens", "2"], #"{"dilation":1,"window":16}"#),
        (["--mechanism", "longformer", "--option", "window=8", "--causal", "--option", "dilation=[1,1,1,1,2,2,2,2]"],
         #"{"dilation":[1,1,1,1,2,2,2,2],"window":8}"#),
        (["--attention", #"{"type": "performer", "features": 16, "kernel": "relu"}"#], #"{"features":16,"kernel":"relu","orthogonal":true}"#),
        (["--mechanism", "full"], "{}"),
        (["--mechanism", "transformer_xl", "--memory", "32", "--causal"], #"{"same_length":false}"#),
        (["--mechanism", "adaptive_span", "--option", "span=48", "--memory", "16", "--causal"],
         #"{"cache":false,"init":0,"loss_coefficient":2e-06,"ramp":32,"shared_key_positions":true,"span":48}"#),
    ])
    func benchRuns(_ options: [String], _ reported: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--length", "64", "--repeat", "1", "--backward", "--json"] + options, in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        for key in ["mechanism", "options", "length", "batch", "heads", "head_dim", "causal", "global_tokens", "memory", "forward_ms",
                    "backward_ms", "peak_rss_bytes", "threads"] {
            #expect(object[key] != nil, "missing \(key) in \(result.standardOutput)")
        }
        let usedOptions = try JSONSerialization.data(withJSONObject: try #require(object["options"]), options: [.sortedKeys])
        #expect(String(decoding: usedOptions, as: UTF8.self) == reported, "\(result.standardOutput)")
        if options[0] == "--mechanism" { #expect(object["mechanism"] as? String == options[1]) }
    }

    @Test("glance mechanisms prints docs/attention-options.md")
    func mechanisms() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["mechanisms"], in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("docs/attention-options.md"), encoding: .utf8)
        #expect(result.standardOutput == committed)
    }

    @Test("--model-depth runs a whole stack; the reversible backward's gradients equal the stored stack's")
    func reversibleStack() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--mechanism", "reformer", "--option", "hashes=2", "--option", "chunk_length=8", "--causal", "--length", "64", "--heads", "2",
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
            let result = try glance(["bench", "--mechanism", "longformer", "--length", "64", "--option", "window=\(window)", "--fidelity", "--json"],
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
            let result = try glance(["bench", "--mechanism", "linformer", "--length", "64", "--option", "k=\(k)", "--fidelity", "--json"], in: workspace.folder)
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
