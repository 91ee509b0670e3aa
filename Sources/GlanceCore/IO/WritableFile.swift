import Foundation

/// A file opened for writing from its start, written straight from the caller's memory with
/// no buffer in between. Closed when released. Errors are SafeTensorsErrors naming the file.
final class WritableFile {
    let path: String
    private let descriptor: Int32

    /// Creates or truncates `path` (permissions 0666 less the umask, as for any new file).
    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw SafeTensorsError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { close(descriptor) }

    /// Writes all of `bytes`, continuing after partial writes and interruptions.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var written = 0
        while written < bytes.count {
            let result = Foundation.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError.unwritable(path: path, reason: String(cString: strerror(errno)))
            }
            written += result
        }
    }

    /// Flushes what was written to the disk (fsync).
    func synchronize() throws {
        guard fsync(descriptor) == 0 else { throw SafeTensorsError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}

/// Writes a file through `body` under a temporary name in the destination's folder, flushes it
/// to the disk, then renames it over the destination and flushes the folder: readers see the
/// old file or the new one, never a partial write, even after a kill or a power loss; a
/// failure leaves no temporary file behind.
func writeAtomically(to url: URL, _ body: (WritableFile) throws -> Void) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = try WritableFile(path: temporary.path)
        try body(file)
        try file.synchronize()
    } catch let error as SafeTensorsError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw SafeTensorsError.unwritable(path: url.path, reason: error.localizedDescription)
    }
    // rename(2) replaces an existing destination atomically. (FileManager.replaceItemAt on
    // Linux deletes the destination and then fails, losing both files.)
    guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw SafeTensorsError.unwritable(path: url.path, reason: reason)
    }
    // The rename itself lasts once the folder's entry is on the disk.
    let descriptor = open(folder.path, O_RDONLY)
    if descriptor >= 0 {
        _ = fsync(descriptor)
        close(descriptor)
    }
}

/// Writes `data` atomically and durably (see ``writeAtomically(to:_:)``).
public func writeAtomically(_ data: Data, to url: URL) throws {
    try writeAtomically(to: url) { file in
        try data.withUnsafeBytes { try file.write($0) }
    }
}
