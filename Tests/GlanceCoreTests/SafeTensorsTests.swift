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

    @Test("skipped tensors may have any dtype and are left out; the others are read")
    func skippedTensors() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("skip.safetensors")
        let header = #"{"count":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        try safetensorsBytes(header: header, body: [UInt8](repeating: 0, count: 8) + [0, 0, 128, 63]).write(to: url)
        let tensors = try SafeTensors.read(from: url) { $0 == "count" }.tensors
        #expect(Array(tensors.keys) == ["w"] && tensors["w"]!.scalars == [1])
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) { $0 == .unsupportedType(path: url.path, tensor: "count", dtype: "I64") }
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

    /// Writes `header` (and `body`) to a fresh file and expects reading it to fail as `check` says.
    private func expectRejected(header: String, body: [UInt8], declaredLength: UInt64? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                                _ check: (SafeTensorsError) -> Bool) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("hostile.safetensors")
        try safetensorsBytes(header: header, body: body, declaredLength: declaredLength).write(to: url)
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }, check, sourceLocation: sourceLocation)
    }

    @Test(arguments: ["[4294967296,4294967296]", "[0,4294967296,4294967296]", "[9223372036854775807,2]", "[4611686018427387904]"])
    func shapeWhoseSizeOverflows(_ shape: String) throws {
        try expectRejected(header: #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,16]}}"#, body: .init(repeating: 0, count: 16)) {
            if case let .badTensor(_, "w", detail) = $0 { return detail.contains("overflow") || detail.contains("needs more than") } else { return false }
        }
    }

    @Test(arguments: ["[9223372036854775808]", "[18446744073709551616]", "[99999999999999999999999]", "[-0]", "[1.0]", "[1e3]", "[true]", "[null]", "[[2]]"])
    func dimensionThatIsNotANaturalNumber(_ shape: String) throws {
        try expectRejected(header: #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, body: [0, 0, 0, 0]) {
            if case let .badTensor(_, "w", detail) = $0 { return detail.contains("invalid shape") } else { return false }
        }
    }

    @Test(arguments: ["[9223372036854775807,9223372036854775807]", "[0,9223372036854775808]", "[0,1e2]", "[0,4.0]"])
    func hugeOrMalformedOffsets(_ offsets: String) throws {
        try expectRejected(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, body: [0, 0, 0, 0]) {
            if case .badTensor(_, "w", _) = $0 { return true } else { return false }
        }
    }

    @Test func headerLengthOffByAFewBytes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        // The writer pads the header with spaces, so a shorter length still ends in valid JSON.
        try SafeTensors.write(["w": Tensor([1, 2, 3])], to: url)
        let good = try Data(contentsOf: url)
        let length = good.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        for delta in [-1, -2, 1, 4] {
            var data = good
            withUnsafeBytes(of: UInt64(length + delta).littleEndian) { data.replaceSubrange(0..<8, with: $0) }
            try data.write(to: url)
            expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
                if case .malformedHeader = $0 { return true } else { return false }
            }
        }
    }

    @Test(arguments: [
        (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "duplicate key 'w'"),
        (#"{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#, "duplicate key 'dtype'"),
        (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"shape":[2]}}"#, "duplicate key 'shape'"),
        (#"{"__metadata__":{"a":"1","a":"2"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "duplicate key 'a'"),
        (#"{"__metadata__":{},"__metadata__":{},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "duplicate key '__metadata__'"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}"#, "trailing commas"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, "unknown field 'extra'"),
        (#"{"w":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}"#, "lacks dtype"),
        ("", "unexpected end"),
    ])
    func strictHeader(_ header: String, _ message: String) throws {
        try expectRejected(header: header, body: .init(repeating: 0, count: 8)) {
            if case let .malformedHeader(_, detail) = $0 { return detail.contains(message) } else { return false }
        }
    }

    @Test func tensorsMustTileTheBody() throws {
        // Overlap: both tensors claim bytes 4..<8.
        try expectRejected(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                           body: .init(repeating: 0, count: 12)) {
            if case let .badTensor(_, "b", detail) = $0 { return detail.contains("overlaps tensor 'a'") } else { return false }
        }
        // An empty tensor inside another one overlaps it too.
        try expectRejected(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#,
                           body: .init(repeating: 0, count: 8)) {
            if case .badTensor(_, "e", _) = $0 { return true } else { return false }
        }
        // A gap between tensors.
        try expectRejected(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                           body: .init(repeating: 0, count: 12)) {
            if case let .badTensor(_, "b", detail) = $0 { return detail.contains("gap") } else { return false }
        }
        // Bytes after the last tensor.
        try expectRejected(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, body: .init(repeating: 0, count: 6)) {
            if case let .malformedHeader(_, detail) = $0 { return detail.contains("cover 4 bytes but 6") } else { return false }
        }
    }

    @Test func emptyTensorsAtTheEdgesAndOutOfOrderEntries() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("order.safetensors")
        let header = #"{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[6,6]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"#
            + #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[3,0],"data_offsets":[0,0]}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes([Float(2.5)]) + littleEndianBytes([UInt16(0x3F80)])).write(to: url)
        let (tensors, _) = try SafeTensors.read(from: url)
        #expect(tensors["a"]?.scalars == [2.5] && tensors["b"]?.scalars == [1])
        #expect(tensors["z"]?.shape == [0, 5] && tensors["e"]?.shape == [3, 0] && tensors["e"]?.count == 0)
    }

    @Test func largeHalfPrecisionTensorsWidenInPlace() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("wide.safetensors")
        // Above LargeBuffer's threshold, with an odd count, so that the in-place widening covers
        // a mapped buffer end to end.
        let count = 300_001
        let half = (0..<count).map { UInt16(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) }
        let header = #"{"b":{"dtype":"BF16","shape":[\#(count)],"data_offsets":[0,\#(2 * count)]},"#
            + #""h":{"dtype":"F16","shape":[\#(count)],"data_offsets":[\#(2 * count),\#(4 * count)]}}"#
        try safetensorsBytes(header: header, body: littleEndianBytes(half) + littleEndianBytes(half)).write(to: url)
        let (tensors, _) = try SafeTensors.read(from: url)
        let b = try #require(tensors["b"]).scalars
        let h = try #require(tensors["h"]).scalars
        #expect(b.indices.allSatisfy { b[$0].bitPattern == UInt32(half[$0]) << 16 })
        #expect(h.indices.allSatisfy { h[$0].bitPattern == Float(Float16(bitPattern: half[$0])).bitPattern || (h[$0].isNaN && Float16(bitPattern: half[$0]).isNaN) })
    }

    @Test func refusesWhatIsNotARegularFileAndHugeHeaders() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        expectSafeTensorsError({ _ = try SafeTensors.read(from: folder) }) {
            if case let .unreadable(path, reason) = $0 { return path == folder.path && reason.contains("regular") } else { return false }
        }
        // A sparse file whose header length is within the file but over the limit: refused before
        // anything is read or allocated.
        let url = folder.appendingPathComponent("sparse.safetensors")
        try safetensorsBytes(header: "", body: [], declaredLength: 150_000_000).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 200_000_000)
        try handle.close()
        expectSafeTensorsError({ _ = try SafeTensors.read(from: url) }) {
            if case let .malformedHeader(_, detail) = $0 { return detail.contains("limit") } else { return false }
        }
    }
}
