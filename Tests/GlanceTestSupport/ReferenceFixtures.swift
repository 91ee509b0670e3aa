import Foundation
import GlanceCore

/// The fixtures that the `tools/reference/` scripts write: in `GLANCE_FIXTURES` when set,
/// else in Tests/GlanceAttentionTests/Fixtures.
public enum ReferenceFixtures {
    public static var folder: URL {
        if let path = ProcessInfo.processInfo.environment["GLANCE_FIXTURES"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GlanceAttentionTests").appendingPathComponent("Fixtures")
    }

    /// The tensors of `name`.safetensors in ``folder``.
    public static func tensors(_ name: String) throws -> [String: Tensor] {
        try SafeTensors.read(from: folder.appendingPathComponent("\(name).safetensors")).tensors
    }

    /// The rows of a [batch, n] tensor of token ids stored as floats.
    public static func rows(_ t: Tensor) -> [[Int]] {
        (0..<t.shape[0]).map { b in (0..<t.shape[1]).map { Int(t[b, $0].rounded()) } }
    }

    /// A copy of the model folder `checkpoint` (config.json and model.safetensors) in a new
    /// temporary folder, with config.json changed by `edit`. The caller removes it.
    public static func editedCopy(of checkpoint: URL, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-\(checkpoint.lastPathComponent)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: checkpoint.appendingPathComponent("model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        return folder
    }
}
