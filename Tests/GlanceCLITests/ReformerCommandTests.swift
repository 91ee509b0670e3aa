import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// `glance run` and `glance generate --model` with the random Hugging Face
/// `ReformerModelWithLMHead` fixture (tools/reference/make_reformer_model_fixture.py).
@Suite struct ReformerCommandTests {
    static var checkpoint: URL { MechanismOptionTests.fixtures.appendingPathComponent("reformer_model") }

    static func cases() throws -> [String: Tensor] {
        try SafeTensors.read(from: MechanismOptionTests.fixtures.appendingPathComponent("reformer_model_cases.safetensors")).tensors
    }

    static func row(_ t: Tensor, _ b: Int) -> String {
        (0..<t.shape[1]).map { String(Int(t[b, $0].rounded())) }.joined(separator: ",")
    }

    /// Writes the rotations Hugging Face drew for `name` to a file under the keys `--rotations` reads.
    static func writeRotations(_ cases: [String: Tensor], _ name: String, to url: URL) throws {
        let prefix = "\(name).rotations."
        let rotations = Dictionary(uniqueKeysWithValues: cases.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        try SafeTensors.write(rotations, to: url)
    }

    @Test("glance run writes last_hidden_state and logits of a Hugging Face Reformer checkpoint within 1e-4, with its rotations")
    func runReformer() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let cases = try Self.cases()
        let ids = cases["padded_batch.input_ids"]!, mask = cases["padded_batch.attention_mask"]!
        let rotations = workspace.folder.appendingPathComponent("rotations.safetensors")
        try Self.writeRotations(cases, "padded_batch", to: rotations)
        let out = workspace.folder.appendingPathComponent("out.safetensors")
        let result = try glance(["run", "--model", Self.checkpoint.path, "--input-ids", "\(Self.row(ids, 0));\(Self.row(ids, 1))",
                                 "--attention-mask", "\(Self.row(mask, 0));\(Self.row(mask, 1))", "--rotations", rotations.path,
                                 "--output", out.path, "--threads", "1"], in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let written = try SafeTensors.read(from: out).tensors
        for key in ["last_hidden_state", "logits"] {
            let actual = try #require(written[key], "\(key) missing"), expected = cases["padded_batch.\(key)"]!
            #expect(actual.shape == expected.shape)
            #expect(relativeError(actual.scalars, expected.scalars) <= 1e-4, "\(key)")
        }
    }

    @Test("glance run with a Reformer: flags of the other model and bad rotations fail naming them", arguments: [
        (["--global-attention", "0"], "--global-attention"),
        (["--rotations", "missing.safetensors"], "missing.safetensors"),
        (["--rotations", "wrong.safetensors"], "layers.3"),
        (["--input-ids", "2,258"], "input_ids"),
    ])
    func runErrors(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try SafeTensors.write(["layers.1": .zeros([2, 8, 2, 3])], to: workspace.folder.appendingPathComponent("wrong.safetensors"))
        let ids = options.contains("--input-ids") ? [] : ["--input-ids", "5,6,7"]
        let result = try glance(["run", "--model", Self.checkpoint.path, "--output", "o.safetensors"] + ids + options, in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(named), "\(result)")
    }

    @Test("glance run --rotations with a Longformer checkpoint fails naming the flag")
    func rotationsWithLongformer() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["run", "--model", MechanismOptionTests.fixtures.appendingPathComponent("longformer_model").path,
                                 "--input-ids", "0,5,2", "--rotations", "r.safetensors", "--output", "o.safetensors"], in: workspace.folder)
        #expect(result.status != 0 && result.output.contains("--rotations"), "\(result)")
    }

    @Test("glance generate --model samples bytes from a Reformer folder; greedy output is reproducible")
    func generate() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let arguments = ["generate", "--model", Self.checkpoint.path, "--prompt", "Hello", "--length", "12", "--temperature", "0", "--threads", "1"]
        let first = try glance(arguments, in: workspace.folder), second = try glance(arguments, in: workspace.folder)
        try #require(first.status == 0, "\(first)")
        #expect(first.standardOutput.hasPrefix("Hello") && first.standardOutput == second.standardOutput)
    }

    @Test("glance generate: --config and --model together, a Longformer folder or a byte outside the vocabulary fail clearly", arguments: [
        (["--model", "REFORMER", "--config", "c.json"], "either --config"),
        (["--model", "LONGFORMER"], "longformer"),
        (["--model", "REFORMER", "--byte-offset", "257", "--prompt", "A"], "outside the vocabulary"),
        (["--model", "REFORMER", "--output", "runs/x"], "--output"),
    ])
    func generateErrors(_ options: [String], _ says: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let folders = ["REFORMER": Self.checkpoint.path, "LONGFORMER": MechanismOptionTests.fixtures.appendingPathComponent("longformer_model").path]
        let result = try glance(["generate", "--length", "3"] + options.map { folders[$0] ?? $0 }, in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(says), "\(result)")
    }
}
