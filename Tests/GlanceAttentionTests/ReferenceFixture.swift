import Foundation
import GlanceCore

/// One reference fixture (see Fixtures/README.md): the tensors of NAME.safetensors and the
/// configuration of NAME.json, read from `GLANCE_FIXTURES` when set, else Fixtures/ beside this file.
struct ReferenceFixture {
    var tensors: [String: Tensor]
    var config: [String: Any]

    static var folder: URL {
        if let path = ProcessInfo.processInfo.environment["GLANCE_FIXTURES"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    init(named name: String) throws {
        tensors = try SafeTensors.read(from: Self.folder.appendingPathComponent(name + ".safetensors")).tensors
        let json = try Data(contentsOf: Self.folder.appendingPathComponent(name + ".json"))
        config = try JSONSerialization.jsonObject(with: json) as! [String: Any]
    }

    /// The tensor stored under `key`; a missing key fails loudly with the key's name.
    subscript(_ key: String) -> Tensor {
        guard let tensor = tensors[key] else { preconditionFailure("fixture has no tensor '\(key)'") }
        return tensor
    }

    func int(_ key: String) -> Int { config[key] as! Int }
    func bool(_ key: String) -> Bool { config[key] as! Bool }
    func string(_ key: String) -> String { config[key] as! String }
}
