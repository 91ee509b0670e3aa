import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// A fresh empty folder under the system temporary directory.
func temporaryFolder(_ name: String = #function) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("glance-tests-\(name.filter { $0.isLetter })-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// A safetensors file written byte by byte: 8-byte little-endian header length, header, body.
func safetensorsBytes(header: String, body: [UInt8], declaredLength: UInt64? = nil) -> Data {
    let headerBytes = Array(header.utf8)
    var data = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: headerBytes)
    data.append(contentsOf: body)
    return data
}

func littleEndianBytes(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in let b = v.bitPattern; return [0, 8, 16, 24].map { UInt8((b >> UInt32($0)) & 0xFF) } }
}

/// Expects `body` to throw exactly `expected`.
func expectSafeTensorsError(_ body: () throws -> Void, _ check: (SafeTensorsError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected a SafeTensorsError", sourceLocation: sourceLocation)
    } catch let error as SafeTensorsError {
        #expect(check(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a SafeTensorsError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let tensors: [String: Tensor] = [
            "layer.weight": randomTensor([3, 4], seed: 171),
            "layer.bias": Tensor([1, -2, 3.5]),
            "scalar": Tensor(scalar: -0.25),
            "empty": Tensor.zeros([0, 3]),
            "special": Tensor([.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]),
        ]
        try SafeTensors.write(tensors, metadata: ["format": "pt", "step": "12"], to: url)
        let (read, metadata) = try SafeTensors.read(from: url)
        #expect(metadata == ["format": "pt", "step": "12"])
        #expect(Set(read.keys) == Set(tensors.keys))
        for (name, tensor) in tensors {
            #expect(read[name]?.shape == tensor.shape, "\(name)")
            #expect(read[name]?.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)")
        }
        // Header length is a multiple of 8 after the length field, data starts aligned.
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
    }

    @Test func readsHandWrittenFloat16() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("half.safetensors")
        // 1, −2, 0.5, 65504 (largest), 2^−24 (smallest subnormal), 3·2^−24, +∞, −0, 0.333251953125
        let bits: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0003, 0x7C00, 0x8000, 0x3555]
        let header = #"{"h":{"dtype":"F16","shape":[3,3],"data_offsets":[0,18]},"__metadata__":{"source":"hand"}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes(bits)).write(to: url)
        let (tensors, metadata) = try SafeTensors.read(from: url)
        #expect(metadata == ["source": "hand"])
        let h = try #require(tensors["h"])
        #expect(h.shape == [3, 3])
        #expect(h.scalars == [1, -2, 0.5, 65504, 0x1p-24, 3 * 0x1p-24, .infinity, 0, 0.333251953125])
        #expect(h.scalars[7].sign == .minus)
        // NaN stays NaN.
        try safetensorsBytes(header: #"{"n":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, body: littleEndianBytes([UInt16(0x7E00)])).write(to: url)
        #expect(try SafeTensors.read(from: url).tensors["n"]!.item().isNaN)
    }

    @Test func readsHandWrittenBFloat16AndMixedTypes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bf16.safetensors")
        // 1, −2.5, 3.140625, −∞, 1e−40-ish subnormal 0x0001 = 2^−133
        let bits: [UInt16] = [0x3F80, 0xC020, 0x4049, 0xFF80, 0x0001]
        let f32 = littleEndianBytes([Float(7.5), -1])
        let header = #"{"b":{"dtype":"BF16","shape":[5],"data_offsets":[0,10]},"f":{"dtype":"F32","shape":[2,1],"data_offsets":[10,18]}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes(bits) + f32).write(to: url)
        let (tensors, _) = try SafeTensors.read(from: url)
        #expect(tensors["b"]?.scalars == [1, -2.5, 3.140625, -.infinity, 0x1p-133])
        #expect(tensors["f"]?.shape == [2, 1] && tensors["f"]?.scalars == [7.5, -1])
    }

    @Test func truncatedFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case let .truncated(path, _) = $0 { return path == url.path } else { return false }
        }
        // A valid header whose tensor data is cut off.
        let header = #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes([Float(1), 2])).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case let .truncated(_, detail) = $0 { return detail.contains("x") } else { return false }
        }
    }

    @Test func headerLengthBeyondTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("long.safetensors")
        try safetensorsBytes(header: "{}", body: [], declaredLength: 1000).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case .truncated = $0 { return true } else { return false }
        }
        try safetensorsBytes(header: "{}", body: [], declaredLength: UInt64.max).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    @Test(arguments: ["garbage{", "[1, 2, 3]", "\"text\"", #"{"x": 5}"#, #"{"x":{"dtype":"F32","shape":[1]}}"#,
                      #"{"__metadata__": {"a": 1}}"#, #"{"__metadata__": [1]}"#])
    func corruptedHeader(_ header: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bad.safetensors")
        try safetensorsBytes(header: header, body: [0, 0, 0, 0]).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case let .malformedHeader(path, _) = $0 { return path == url.path } else { return false }
        }
    }

    @Test(arguments: ["I64", "F64", "U8", "BOOL"])
    func unsupportedType(_ dtype: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("dtype.safetensors")
        let header = #"{"ids":{"dtype":"\#(dtype)","shape":[1],"data_offsets":[0,8]}}"#
        try safetensorsBytes(header: header, body: [UInt8](repeating: 0, count: 8)).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) { $0 == .unsupportedType(path: url.path, tensor: "ids", dtype: dtype) }
        #expect(SafeTensorsError.unsupportedType(path: url.path, tensor: "ids", dtype: dtype).description.contains(dtype))
    }

    @Test(arguments: ["[0,12]", "[4,0]", "[-4,12]", "[0,16,4]", "[0]"])
    func wrongDataOffsets(_ offsets: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("offsets.safetensors")
        let header = #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":\#(offsets)}}"#
        try safetensorsBytes(header: header, body: [UInt8](repeating: 0, count: 16)).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            switch $0 {
            case let .badTensor(_, tensor, _): tensor == "w"
            case .malformedHeader: offsets.filter { $0 == "," }.count != 1
            default: false
            }
        }
    }

    @Test func invalidShape() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("shape.safetensors")
        for shape in ["[-1,4]", #"[2,"a"]"#] {
            let header = #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,16]}}"#
            try safetensorsBytes(header: header, body: [UInt8](repeating: 0, count: 16)).write(to: url)
            expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
                if case .badTensor(_, "w", _) = $0 { return true } else { return false }
            }
        }
    }

    @Test func missingFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("glance-no-such-\(UUID().uuidString).safetensors")
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case let .unreadable(path, _) = $0 { return path == url.path } else { return false }
        }
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("weights.safetensors")
        try SafeTensors.write(["a": Tensor([1, 2])], to: url)
        try SafeTensors.write(["b": Tensor([3])], metadata: ["v": "2"], to: url)
        let (tensors, metadata) = try SafeTensors.read(from: url)
        #expect(Array(tensors.keys) == ["b"] && tensors["b"]?.scalars == [3] && metadata == ["v": "2"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["weights.safetensors"])
        // writeAtomically creates missing folders and replaces existing files.
        let nested = folder.appendingPathComponent("a/b/notes.txt")
        try writeAtomically(Data("one".utf8), to: nested)
        try writeAtomically(Data("two".utf8), to: nested)
        #expect(try String(contentsOf: nested, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: nested.deletingLastPathComponent().path) == ["notes.txt"])
    }

    @Test func unwritableDestination() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A regular file where a folder is needed.
        let blocker = folder.appendingPathComponent("file")
        try Data([1]).write(to: blocker)
        let url = blocker.appendingPathComponent("weights.safetensors")
        expectSafeTensorsError({ try SafeTensors.write(["a": Tensor([1])], to: url) }) {
            if case let .unwritable(path, _) = $0 { return path == url.path } else { return false }
        }
    }
}
