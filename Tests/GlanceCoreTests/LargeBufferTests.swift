@testable import GlanceCore
import Testing

@Suite struct LargeBufferTests {
    @Test func mappingsRoundToHugePagesOnlyWhereLittleIsWasted() {
        let mebibyte = 1 << 20
        // A [768, 768] tensor (2.25 MiB) keeps whole 4 KiB pages instead of taking 4 MiB.
        #expect(LargeBuffer.mappingLength(bytes: 768 * 768 * 4) == 768 * 768 * 4)
        #expect(LargeBuffer.mappingLength(bytes: mebibyte + 1) == mebibyte + 4096)
        // Just below a multiple of 2 MiB, and large ones, round to huge pages.
        #expect(LargeBuffer.mappingLength(bytes: 2 * mebibyte - 4096) == 2 * mebibyte)
        #expect(LargeBuffer.mappingLength(bytes: 100 * mebibyte + 1) == 102 * mebibyte)
        for bytes in [mebibyte, 3 * mebibyte + 17, 9 * mebibyte, 1 << 30] {
            let length = LargeBuffer.mappingLength(bytes: bytes)
            #expect(length >= bytes && length - bytes <= Swift.max(bytes / 8, 4095) && length % 4096 == 0)
        }
    }

    @Test func aFreedMappingServesTheNextRequestOfItsSize() {
        let bytes = 5 * (1 << 20) + 12_345
        guard let first = LargeBuffer.map(bytes: bytes) else { return }  // systems without mmap
        LargeBuffer.unmap(first.pointer.assumingMemoryBound(to: Float.self), bytes: first.bytes)
        let second = LargeBuffer.map(bytes: bytes)!
        #expect(second.bytes == first.bytes)
        LargeBuffer.unmap(second.pointer.assumingMemoryBound(to: Float.self), bytes: second.bytes)
    }
}
