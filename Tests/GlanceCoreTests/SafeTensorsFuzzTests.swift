import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// A safetensors file taken apart for mutation: the header's bytes and everything after it.
private struct SafeTensorsParts {
    var header: [UInt8]
    var body: [UInt8]
    /// Replaces the 8-byte length field when set; otherwise the file declares the true length.
    var declaredLength: UInt64?

    init(_ file: [UInt8]) {
        let length = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        header = Array(file[8..<(8 + length)])
        body = Array(file[(8 + length)...])
    }

    var file: [UInt8] {
        withUnsafeBytes(of: (declaredLength ?? UInt64(header.count)).littleEndian) { Array($0) } + header + body
    }
}

/// Seeded mutation fuzzing of `SafeTensors.read`: every mutated file either reads or throws a
/// SafeTensorsError. A trap fails the run; a hang trips the time limit.
@Suite struct SafeTensorsFuzzTests {
    static let literals = ["0", "1", "-1", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                           "18446744073709551616", "99999999999999999999999", "1e9", "1.5", "-0", "00", "\"4\"", "null", "[]"]
    static let fragments = [",", ":", "[", "]", "{", "}", "\"", "\\", "0", "-", " ", "\u{0}", "\u{1}", ",,", "{}", "[]", "\"a\":1,",
                            "\"__metadata__\":{},", String(repeating: "[", count: 200), "\\ud800", "\u{FEFF}"]

    /// Valid files to start from: F32 with metadata and an empty tensor (written by
    /// SafeTensors.write), one F32 tensor, and F16, BF16 and empty tensors written by hand.
    private func seeds() throws -> [[UInt8]] {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("seed.safetensors")
        try SafeTensors.write(["embed.weight": randomTensor([5, 3], seed: 1), "norm.bias": Tensor([1, -2]), "scalar": Tensor(scalar: 4),
                               "empty": Tensor.zeros([0, 7])], metadata: ["format": "pt", "step": "3"], to: url)
        let withMetadata = try [UInt8](Data(contentsOf: url))
        try SafeTensors.write(["only": randomTensor([2, 2], seed: 2)], to: url)
        let single = try [UInt8](Data(contentsOf: url))
        let header = #"{"__metadata__":{"dtype":"mixed"},"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"#
            + #""b":{"dtype":"BF16","shape":[3],"data_offsets":[12,18]},"e":{"dtype":"BF16","shape":[4,0,2],"data_offsets":[18,18]},"#
            + #""f":{"dtype":"F32","shape":[1,1],"data_offsets":[18,22]}}"#
        let halves = [UInt8](safetensorsBytes(header: header, body: littleEndianBytes([UInt16]([0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000]))
            + littleEndianBytes([UInt16]([0x3F80, 0xC020, 0xFF80])) + littleEndianBytes([Float(0.5)])))
        return [withMetadata, single, halves]
    }

    @Test(.timeLimit(.minutes(1))) func mutatedFilesReadOrThrowSafeTensorsErrors() throws {
        let seeds = try seeds()
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("mutated.safetensors")
        for seed in seeds { #expect(throws: Never.self) { try read(seed, at: url) } }
        var outcomes: [String: Int] = [:]
        var failures: [String] = []
        for index in 0..<10_000 {
            var random = RandomGenerator(seed: 20_240_117 &+ UInt64(index))
            var parts = SafeTensorsParts(seeds[random.nextInt(below: seeds.count)])
            var applied: [String] = []
            for _ in 0...random.nextInt(below: 3) { applied.append(mutate(&parts, &random)) }
            var file = parts.file
            if random.nextInt(below: 10) == 0 {
                let length = random.nextInt(below: file.count + 1)
                file.removeLast(file.count - length)
                applied.append("truncate to \(length) bytes")
            }
            do {
                try read(file, at: url)
                outcomes["read", default: 0] += 1
            } catch let error as SafeTensorsError {
                outcomes[Mirror(reflecting: error).children.first?.label ?? "\(error)", default: 0] += 1
            } catch {
                failures.append("case \(index) (\(applied.joined(separator: "; "))): \(type(of: error)): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) cases threw something else than a SafeTensorsError:\n\(failures.prefix(10).joined(separator: "\n"))")
        // The campaign reaches both sides: some mutations keep the file valid, most do not.
        #expect((outcomes["read"] ?? 0) > 40 && outcomes.count == 5, "outcomes: \(outcomes)")
    }

    /// Writes `file` to `url`, reads it back, checks that what came back is consistent and
    /// deletes the file. (Data.write syncs to disk, and truncating a file that reached the disk
    /// waits for it: with either, thousands of cases take half a minute.)
    private func read(_ file: [UInt8], at url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(descriptor >= 0, "cannot create \(url.path)")
        let written = file.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        defer { unlink(url.path) }
        try #require(written == file.count, "cannot write \(url.path)")
        let (tensors, _) = try SafeTensors.read(from: url)
        for (name, tensor) in tensors {
            #expect(tensor.count == tensor.shape.reduce(1, *), "\(name): \(tensor.shape)")
        }
    }

    /// Applies one random mutation and says which.
    private func mutate(_ parts: inout SafeTensorsParts, _ random: inout RandomGenerator) -> String {
        switch random.nextInt(below: 8) {
        case 0:
            guard !parts.header.isEmpty else { return "nothing" }
            let at = random.nextInt(below: parts.header.count)
            let byte = UInt8(truncatingIfNeeded: random.next())
            parts.header[at] = byte
            return "header byte \(at) = \(byte)"
        case 1:
            let number = tokens(in: parts.header, matching: { $0 == UInt8(ascii: "-") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) })
            guard let range = number.randomElement(using: &random) else { return "nothing" }
            let literal = random.nextInt(below: 4) == 0 ? String(random.nextInt(below: 64)) : Self.literals.randomElement(using: &random)!
            parts.header.replaceSubrange(range, with: Array(literal.utf8))
            return "number at \(range.lowerBound) = \(literal)"
        case 2:
            let strings = quotedStrings(in: parts.header)
            guard let target = strings.randomElement(using: &random), let source = strings.randomElement(using: &random) else { return "nothing" }
            let replacement = Array(parts.header[source])
            parts.header.replaceSubrange(target, with: replacement)
            return "string at \(target.lowerBound) = \(String(decoding: replacement, as: UTF8.self))"
        case 3:
            let fragment = Self.fragments.randomElement(using: &random)!
            let at = random.nextInt(below: parts.header.count + 1)
            parts.header.insert(contentsOf: Array(fragment.utf8), at: at)
            return "insert \(fragment.debugDescription) at \(at)"
        case 4:
            guard !parts.header.isEmpty else { return "nothing" }
            let at = random.nextInt(below: parts.header.count)
            let length = min(1 + random.nextInt(below: 4), parts.header.count - at)
            parts.header.removeSubrange(at..<(at + length))
            return "delete \(length) header bytes at \(at)"
        case 5:
            let choices: [UInt64] = [0, UInt64.max, UInt64(Int.max), UInt64(Int.max) + 1, UInt64(parts.header.count + parts.body.count),
                                     UInt64(max(0, parts.header.count + random.nextInt(below: 17) - 8)), random.next() >> random.nextInt(below: 64)]
            parts.declaredLength = choices.randomElement(using: &random)!
            return "declared length \(parts.declaredLength!)"
        case 6:
            guard !parts.body.isEmpty else { return "nothing" }
            let at = random.nextInt(below: parts.body.count)
            parts.body[at] = UInt8(truncatingIfNeeded: random.next())
            return "body byte \(at)"
        default:
            let extra = (0..<1 + random.nextInt(below: 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            parts.body += extra
            return "append \(extra.count) bytes"
        }
    }

    /// Ranges of maximal runs of bytes that satisfy `predicate`.
    private func tokens(in bytes: [UInt8], matching predicate: (UInt8) -> Bool) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start: Int?
        for (index, byte) in bytes.enumerated() {
            if predicate(byte) {
                if start == nil { start = index }
            } else if let first = start {
                ranges.append(first..<index)
                start = nil
            }
        }
        if let first = start { ranges.append(first..<bytes.count) }
        return ranges
    }

    /// Ranges of the quoted strings (quotes included; escapes are not looked at).
    private func quotedStrings(in bytes: [UInt8]) -> [Range<Int>] {
        let quotes = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\"") }
        return stride(from: 0, to: quotes.count - 1, by: 2).map { quotes[$0]..<(quotes[$0 + 1] + 1) }
    }
}
