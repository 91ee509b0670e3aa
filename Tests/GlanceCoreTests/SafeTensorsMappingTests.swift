import Foundation
@testable import GlanceCore
import Testing

/// Reading F32 tensors in place from a privately mapped file, and what happens around it: the
/// bytes the tensors use, writes that must stay private, a file replaced or truncated meanwhile,
/// and tensors that cannot be mapped (misaligned F32) and are read instead.
@Suite struct SafeTensorsMappingTests {
    /// The address of a tensor's first element.
    static func address(_ tensor: Tensor) -> Int { tensor.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }

    @Test func f32TensorsUseTheFileBytesInPlace() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("mapped.safetensors")
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[12,28]}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes([Float(1), -2, 3.5, 4, 5, 6, 7])).write(to: url)
        let (tensors, _) = try SafeTensors.read(from: url)
        let a = try #require(tensors["a"]), b = try #require(tensors["b"])
        #expect(a.scalars == [1, -2, 3.5] && b.shape == [2, 2] && b.scalars == [4, 5, 6, 7])
        // Both lie in one mapping of the file, as far apart as in the file: nothing was copied.
        #expect(Self.address(b) - Self.address(a) == 12)
    }

    @Test func writesToMappedTensorsStayPrivate() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("private.safetensors")
        try SafeTensors.write(["w": Tensor([1, 2, 3, 4])], to: url)
        let bytes = try Data(contentsOf: url)
        var w = try #require(try SafeTensors.read(from: url).tensors["w"])
        w.withUnsafeMutableBufferPointer { $0[0] = 100 }
        #expect(w.scalars == [100, 2, 3, 4])
        #expect(try Data(contentsOf: url) == bytes)
        #expect(try SafeTensors.read(from: url).tensors["w"]?.scalars == [1, 2, 3, 4])
    }

    @Test func aFileReplacedByRenameLeavesReadTensorsIntact() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("replaced.safetensors")
        let values = (0..<300_000).map { Float($0) }
        try SafeTensors.write(["w": Tensor(values)], to: url)
        let w = try #require(try SafeTensors.read(from: url).tensors["w"])
        try SafeTensors.write(["v": Tensor([9])], to: url)
        #expect(w.scalars == values)
    }

    @Test func misalignedF32IsReadIntoAlignedStorage() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("odd.safetensors")
        var header = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        while (8 + header.utf8.count) % 4 != 2 { header += " " }
        try safetensorsBytes(header: header, body: littleEndianBytes([Float(-1.5), 2.25])).write(to: url)
        let x = try #require(try SafeTensors.read(from: url).tensors["x"])
        #expect(x.scalars == [-1.5, 2.25])
        #expect(Self.address(x) % 64 == 0)
    }

    #if os(Linux)
    @Test func aFileTruncatedAfterMappingIsAnErrorNamingItNotACrash() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("shrinking.safetensors")
        try Data(repeating: 7, count: 5 * 4096).write(to: url)
        let file = try ReadableFile(path: url.path)
        let mapping = try MappedFile(file)
        try mapping.populate(0..<5 * 4096)
        #expect(truncate(url.path, 100) == 0)
        expectSafeTensorsError({ try mapping.populate(4096..<5 * 4096) }) {
            if case let .truncated(path, detail) = $0 { return path == url.path && detail.contains("shrink") } else { return false }
        }
    }
    #endif
}
