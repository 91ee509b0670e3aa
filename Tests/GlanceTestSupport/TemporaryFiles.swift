import Foundation

/// A fresh temporary folder; callers remove it with `defer { remove(folder) }`.
public func makeTemporaryFolder(_ name: String = "glance-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Removes a temporary file or folder, ignoring errors.
public func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

/// `count` bytes of real English text: the GPL shipped with Debian (or another license text).
public func englishText(bytes count: Int) throws -> [UInt8] {
    for path in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/GPL-2",
                 "/usr/share/common-licenses/LGPL-2.1"] {
        if let data = FileManager.default.contents(atPath: path), data.count >= count { return Array([UInt8](data).prefix(count)) }
    }
    struct NoText: Error {}
    throw NoText()
}
