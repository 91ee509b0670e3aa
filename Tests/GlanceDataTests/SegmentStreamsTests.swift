import GlanceCore
import GlanceData
import Testing

/// Transformer-XL's reading order: contiguous streams of consecutive segments.
@Suite struct SegmentStreamsTests {
    @Test("each row is the next segment of its stream; streams start at b·⌊count/B⌋ and start over at the end")
    func streamOrder() throws {
        let bytes = (0..<47).map { UInt8($0) }
        let streams = try #require(SegmentStreams(byteCount: bytes.count, streams: 3, length: 4))
        #expect(streams.streamLength == 15 && streams.segmentsPerStream == 3)
        let first = streams.batch(from: bytes, segment: 0)
        #expect(first.inputs.shape == [3, 4])
        #expect(first.inputs.values == [0, 1, 2, 3, 15, 16, 17, 18, 30, 31, 32, 33])
        #expect(first.targets == first.inputs.values.map { $0 + 1 })
        #expect(streams.batch(from: bytes, segment: 2).inputs.values == [8, 9, 10, 11, 23, 24, 25, 26, 38, 39, 40, 41])
        #expect(streams.batch(from: bytes, segment: 3).inputs.values == first.inputs.values)
        #expect(SegmentStreams(byteCount: 15, streams: 3, length: 5) == nil, "a stream of 5 bytes has no 5-byte segment with its target")
        #expect(SegmentStreams(byteCount: 18, streams: 3, length: 5) != nil)
    }

    @Test("evaluation reads the whole text as one stream: every byte after the first is a target once")
    func evaluationCoversEveryByte() {
        let bytes = (0..<11).map { UInt8($0) }
        let segments = SegmentStreams.evaluationSegments(from: bytes, length: 4)
        #expect(segments.map(\.inputs.shape) == [[1, 4], [1, 4], [1, 2]])
        #expect(segments.flatMap(\.inputs.values) == Array(0..<10))
        #expect(segments.flatMap(\.targets) == Array(1..<11))
    }
}
