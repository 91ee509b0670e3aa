import Foundation

/// A file mapped privately into memory, whole, so that tensors can use its bytes in place:
/// pages come straight from the page cache, with no copy and nothing to zero. Writes to the
/// mapping stay private to the process (copy-on-write) and never reach the file. Unmapped
/// when released, that is when the last tensor over it is freed.
///
/// A mapped file must keep its length while mapped: reading a page past its end raises
/// SIGBUS. ``populate(_:)`` reads pages in ahead and turns a page that lies past the end into
/// an error naming the file instead.
final class MappedFile {
    let path: String
    /// Start of the mapping: byte 0 of the file.
    let base: UnsafeMutableRawPointer
    /// Length of the mapping: the file's size when it was opened.
    let length: Int

    /// Maps all of `file` (at least one byte).
    init(_ file: ReadableFile) throws {
        precondition(file.size > 0, "cannot map the empty file \(file.path)")
        path = file.path
        length = file.size
        guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.descriptor, 0), address != MAP_FAILED else {
            throw SafeTensorsError.unreadable(path: path, reason: "cannot map it: \(String(cString: strerror(errno)))")
        }
        base = address
    }

    deinit { munmap(base, length) }

    /// Maps the pages of `bytes` (a range of the file) into the process, readable, from the
    /// page cache (reading the disk where needed), so that their first use costs no page
    /// fault; throws ``SafeTensorsError/truncated(path:detail:)`` when the file has become
    /// shorter than the range since it was mapped. Where the system cannot do this (Linux
    /// before 5.14, other systems), pages are mapped on first use instead.
    func populate(_ bytes: Range<Int>) throws {
        #if os(Linux)
        guard !bytes.isEmpty else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = bytes.lowerBound / pageSize * pageSize
        // MADV_POPULATE_READ (Linux 5.14): prefaults readable without breaking copy-on-write.
        let populateRead: Int32 = 22
        while madvise(base + start, bytes.upperBound - start, populateRead) != 0 {
            switch errno {
            case EINTR, EAGAIN: continue
            case EINVAL: return
            case EFAULT:
                throw SafeTensorsError.truncated(path: path, detail: "bytes \(bytes.lowerBound)..<\(bytes.upperBound) are no longer in the file (did it shrink while being read?)")
            default:
                throw SafeTensorsError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
        }
        #endif
    }
}
