import GlanceCore

/// Transformer-XL's reading order: a text cut into `streams` contiguous streams (stream b starts
/// at byte b·⌊count/streams⌋), each read as consecutive segments of `length` bytes, so that a
/// model carrying memory from one segment to the next sees every stream's text in order.
public struct SegmentStreams: Sendable, Equatable {
    public let streams: Int
    /// Bytes per segment (the model's context).
    public let length: Int
    /// Bytes of each stream.
    public let streamLength: Int

    /// The streams of a text of `byteCount` bytes; nil when a stream is too short for one
    /// segment and its next-byte target.
    public init?(byteCount: Int, streams: Int, length: Int) {
        precondition(streams >= 1 && length >= 1, "streams and segment length must be positive, got \(streams) and \(length)")
        guard byteCount / streams > length else { return nil }
        (self.streams, self.length, streamLength) = (streams, length, byteCount / streams)
    }

    /// Whole segments in each stream (each with the next byte as its last target).
    public var segmentsPerStream: Int { (streamLength - 1) / length }

    /// Segment `index` (modulo ``segmentsPerStream``: the streams start over) of every stream,
    /// one row per stream: inputs and next-byte targets [streams, length].
    public func batch(from bytes: [UInt8], segment index: Int) -> TokenBatch {
        precondition(bytes.count / streams == streamLength, "text of \(bytes.count) bytes, streams of \(streamLength) bytes for \(streams) streams")
        let offset = (index % segmentsPerStream) * length
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(streams * length)
        targets.reserveCapacity(streams * length)
        for stream in 0..<streams {
            let start = stream * streamLength + offset
            for i in start..<(start + length) {
                inputs.append(Int(bytes[i]))
                targets.append(Int(bytes[i + 1]))
            }
        }
        return TokenBatch(inputs: IndexTensor(inputs, shape: [streams, length]), targets: targets)
    }

    /// A whole text as one stream of consecutive segments of at most `length` bytes (the last
    /// may be shorter), [1, length] each: every byte after the first is a target exactly once.
    public static func evaluationSegments(from bytes: [UInt8], length: Int) -> [TokenBatch] {
        precondition(length >= 1, "segment length must be positive, got \(length)")
        return stride(from: 0, to: bytes.count - 1, by: length).map { start in
            let end = Swift.min(start + length, bytes.count - 1)
            return TokenBatch(inputs: IndexTensor(bytes[start..<end].map(Int.init), shape: [1, end - start]),
                              targets: bytes[(start + 1)...end].map(Int.init))
        }
    }
}
