import Foundation

/// A regular file opened for reading at given offsets (pread), straight into the caller's
/// memory, with no buffer in between. Closed when released. Errors are SafeTensorsErrors
/// naming the file.
final class ReadableFile {
    let path: String
    /// Size in bytes when the file was opened.
    let size: Int
    let descriptor: Int32

    /// Opens `path`; refuses anything but a regular file (a FIFO or device would block or never end).
    init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
        descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw SafeTensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw SafeTensorsError.unreadable(path: path, reason: reason)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw SafeTensorsError.unreadable(path: path, reason: "not a regular file")
        }
        size = Int(status.st_size)
        #if os(Linux)
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset` into `destination`.
    func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int) throws {
        var done = 0
        while done < count {
            // One read(2) moves at most about 2 GiB on Linux; ask for 1 GiB at a time.
            let result = pread(descriptor, destination + done, min(count - done, 1 << 30), off_t(offset + done))
            if result < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            guard result > 0 else {
                throw SafeTensorsError.truncated(path: path, detail: "the file ended at byte \(offset + done) while reading \(count) bytes from byte \(offset) (did it shrink while being read?)")
            }
            done += result
        }
    }
}
