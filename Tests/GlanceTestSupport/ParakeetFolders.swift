import Foundation

extension ReferenceFixtures {
    /// A new temporary ParakeetForCTC folder: the `parakeet_ctc` checkpoint with the
    /// `parakeet_ctc_processor` files beside it, less the files named in `omitting`. The caller
    /// removes it.
    public static func parakeetFolder(omitting: Set<String> = []) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-parakeet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for source in ["parakeet_ctc", "parakeet_ctc_processor"].map({ self.folder.appendingPathComponent($0) }) {
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !omitting.contains(name) {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
        }
        return folder
    }

    /// The description of `name`.json in ``folder`` as a JSON object.
    public static func record(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(name).json"))) as! [String: Any]
    }
}
