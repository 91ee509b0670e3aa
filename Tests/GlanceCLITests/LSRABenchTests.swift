import Foundation
import GlanceTestSupport
import Testing

/// `glance bench --model lsra`: one Lite Transformer encoder layer timed on a tiny input, its
/// report, and the errors of a wrong `--model` or attention branch.
@Suite struct LSRABenchTests {
    @Test("--model lsra times one encoder layer, forward and backward, and reports the LSRA options")
    func benchRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--model", "lsra", "--length", "16", "--heads", "2", "--head-dim", "8", "--backward", "--repeat", "1",
                                 "--json", "--mechanism", "lsra", "--option", "convolution=dynamic"], in: workspace.folder)
        try #require(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["model"] as? String == "lsra" && object["length"] as? Int == 16)
        #expect(object["forward_ms"] is Double && object["backward_ms"] is Double, "\(result.standardOutput)")
        #expect(object["gflops"] is Double && object["backward_gflops"] is Double && object["gemm_gflops"] is Double, "\(result.standardOutput)")
        let options = try #require(object["options"] as? [String: Any])
        #expect(options["kernel_size"] as? Int == 31 && options["convolution"] as? String == "dynamic", "\(options)")
    }

    @Test("a wrong --model or an attention branch outside the lsra options is an error naming it", arguments: [
        (["--model", "lsr"], "--model"), (["--model", "lsra", "--mechanism", "performer"], "--mechanism lsra"),
    ])
    func badModel(_ options: [String], _ named: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--length", "16", "--heads", "2", "--head-dim", "8", "--repeat", "1"] + options, in: workspace.folder)
        #expect(result.status != 0 && result.output.contains(named), "\(result)")
    }
}
