import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// `glance run` with the random Hugging Face `TransfoXLLMHeadModel` fixture
/// (tools/reference/make_transfo_xl_model_fixture.py): log-probabilities and memories, and the
/// round trip through `--mems`.
@Suite struct TransfoXLCommandTests {
    static var checkpoint: URL { MechanismOptionTests.fixtures.appendingPathComponent("transfo_xl_model") }

    static func cases() throws -> [String: Tensor] {
        try SafeTensors.read(from: MechanismOptionTests.fixtures.appendingPathComponent("transfo_xl_model_cases.safetensors")).tensors
    }

    static func rows(_ t: Tensor) -> String {
        (0..<t.shape[0]).map { b in (0..<t.shape[1]).map { String(Int(t[b, $0].rounded())) }.joined(separator: ",") }.joined(separator: ";")
    }

    /// Runs `glance run` on the fixture with `options`, returning the file it wrote.
    static func run(_ options: [String], in workspace: Workspace, output: String) throws -> [String: Tensor] {
        let out = workspace.folder.appendingPathComponent(output)
        let result = try glance(["run", "--model", checkpoint.path, "--output", out.path, "--threads", "1"] + options, in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        return try SafeTensors.read(from: out).tensors
    }

    @Test("segment 2 from memories saved by glance run equals Hugging Face's two-segment run, from either start",
          arguments: ["zeros", "empty"])
    func memoriesRoundTrip(_ start: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let cases = try Self.cases()
        let first = try Self.run(["--input-ids", Self.rows(cases["segment1.input_ids"]!), "--memory-start", start], in: workspace,
                                 output: "first.safetensors")
        #expect(Set(first.keys) == ["log_probs", "mems.0", "mems.1"])
        let second = try Self.run(["--input-ids", Self.rows(cases["segment2.input_ids"]!), "--mems", "first.safetensors"], in: workspace,
                                  output: "second.safetensors")
        for (segment, written) in [(1, first), (2, second)] {
            for key in ["log_probs", "mems.0", "mems.1"] {
                let expected = cases["\(start).segment\(segment).\(key)"]!, actual = try #require(written[key])
                #expect(actual.shape == expected.shape && relativeError(actual, expected) <= 1e-4, "segment \(segment) \(key)")
            }
        }
    }

    @Test("glance run with a Transformer-XL: bad memories, flags of other models and a bad start fail naming them", arguments: [
        (["--mems", "missing.safetensors"], "missing.safetensors"),
        (["--mems", "short.safetensors"], "mems.1"),
        (["--mems", "extra.safetensors"], "mems.7"),
        (["--mems", "wide.safetensors"], "[1, M, 16]"),
        (["--memory-start", "ones"], "--memory-start"),
        (["--rotations", "short.safetensors"], "--rotations"),
        (["--attention-mask", "1,1,1"], "--attention-mask"),
    ])
    func runErrors(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let memory = Tensor.zeros([1, 3, 16])
        try SafeTensors.write(["mems.0": memory], to: workspace.folder.appendingPathComponent("short.safetensors"))
        try SafeTensors.write(["mems.0": memory, "mems.1": memory, "mems.7": memory], to: workspace.folder.appendingPathComponent("extra.safetensors"))
        try SafeTensors.write(["mems.0": memory, "mems.1": .zeros([1, 3, 12])], to: workspace.folder.appendingPathComponent("wide.safetensors"))
        let result = try glance(["run", "--model", Self.checkpoint.path, "--output", "o.safetensors", "--input-ids", "5,6,7"] + options,
                                in: workspace.folder)
        #expect(result.status != 0, "\(result)")
        #expect(result.output.contains(named), "\(result)")
    }

    @Test("--mems is refused for a model without memory")
    func memoriesForReformer() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let reformer = MechanismOptionTests.fixtures.appendingPathComponent("reformer_model")
        let result = try glance(["run", "--model", reformer.path, "--output", "o.safetensors", "--input-ids", "5,6,7", "--mems", "m.safetensors"],
                                in: workspace.folder)
        #expect(result.status != 0 && result.output.contains("Transformer-XL"), "\(result)")
    }
}
