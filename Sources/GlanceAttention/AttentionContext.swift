import GlanceCore

/// Which keys each query may see, beyond what the mechanism itself restricts.
public struct AttentionMask: Sendable, Equatable {
    /// Queries see only keys at the same or earlier positions (with a memory, the diagonal
    /// shifts by the memory's length: query i sees every memory position and inputs 0…i).
    public var causal: Bool
    /// Per batch entry and input position: `true` for a real token, `false` for padding.
    /// `nil` means no padding. Memory positions are always real.
    public var keyPadding: [[Bool]]?

    public init(causal: Bool = false, keyPadding: [[Bool]]? = nil) {
        self.causal = causal
        self.keyPadding = keyPadding
    }

    /// No restriction.
    public static let none = AttentionMask()
    /// Causal (autoregressive) masking.
    public static let causal = AttentionMask(causal: true)
}

/// Sinusoidal (or learned) encodings of query–key distances, shared by every layer of a
/// model; each mechanism that supports relative positions turns them into a score term with
/// its own parameters (Transformer-XL's W_R, u, v; Conformer's `linear_pos`).
///
/// Row r encodes the distance `largestDistance − r` (query position minus key position), the
/// descending order of Transformer-XL's `pos_seq` and of ESPnet's relative encodings.
public struct RelativePositionEncoding: @unchecked Sendable {
    /// [distances, width].
    public var encodings: Tensor
    /// The distance of row 0.
    public var largestDistance: Int

    public init(encodings: Tensor, largestDistance: Int) {
        precondition(encodings.rank == 2, "relative encodings must be [distances, width], got \(encodings.shape)")
        self.encodings = encodings
        self.largestDistance = largestDistance
    }

    /// The smallest distance encoded (the last row).
    public var smallestDistance: Int { largestDistance - encodings.shape[0] + 1 }
}

/// Everything a call of ``AttentionMechanism/attend(_:context:)`` may carry besides the
/// queries' input [batch, length, modelDimensions]. Every field is optional; each needs the
/// matching ``AttentionCapabilities`` of the mechanism.
public struct AttentionContext: @unchecked Sendable {
    /// Causality and key padding of the input.
    public var mask: AttentionMask
    /// Hidden states that precede the input [batch, memoryLength, modelDimensions] (Transformer-XL's
    /// and Adaptive Span's memory): the mechanism projects them to keys and values and every
    /// query sees them. Gradients do not flow into the memory unless it requires them.
    public var memory: Tensor?
    /// Cross-attention: keys and values come from this sequence [batch, sourceLength,
    /// modelDimensions] instead of the input (the decoder of a translation model).
    public var source: Tensor?
    /// Padding of ``source``: `true` for a real position.
    public var sourcePadding: [[Bool]]?
    /// Distance encodings for a relative-position score term.
    public var relativePositions: RelativePositionEncoding?
    /// Global tokens (Longformer): `globalTokens[b][i]` marks input position i of entry b.
    public var globalTokens: [[Bool]]?
    /// Incremental decoding: the input holds the next positions only; the keys and values
    /// (or the mechanism's own state) of earlier positions come from the cache, and the call
    /// appends the new ones. Implies causal attention.
    public var cache: (any AttentionCache)?

    public init(mask: AttentionMask = .none, memory: Tensor? = nil, source: Tensor? = nil, sourcePadding: [[Bool]]? = nil,
                relativePositions: RelativePositionEncoding? = nil, globalTokens: [[Bool]]? = nil, cache: (any AttentionCache)? = nil) {
        self.mask = mask
        self.memory = memory
        self.source = source
        self.sourcePadding = sourcePadding
        self.relativePositions = relativePositions
        self.globalTokens = globalTokens
        self.cache = cache
    }

    /// The capabilities a mechanism needs to serve this context.
    public var requiredCapabilities: AttentionCapabilities {
        var needed: AttentionCapabilities = mask.causal || cache != nil ? .causal : .bidirectional
        if memory != nil { needed.insert(.memory) }
        if source != nil { needed.insert(.crossAttention) }
        if relativePositions != nil { needed.insert(.relativePositions) }
        if globalTokens != nil { needed.insert(.globalTokens) }
        if cache != nil { needed.insert(.incremental) }
        return needed
    }
}

/// What a call of ``AttentionMechanism/attend(_:context:)`` returns.
public struct AttentionOutput: @unchecked Sendable {
    /// [batch, length, modelDimensions].
    public var output: Tensor
    /// A scalar loss the model adds to its objective (Adaptive Span's span penalty); nil for
    /// most mechanisms.
    public var auxiliaryLoss: Tensor?

    public init(_ output: Tensor, auxiliaryLoss: Tensor? = nil) {
        self.output = output
        self.auxiliaryLoss = auxiliaryLoss
    }
}

/// What a mechanism can do; ``AttentionContext/requiredCapabilities`` says what a call needs.
public struct AttentionCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Autoregressive attention (each query sees earlier keys only).
    public static let causal = AttentionCapabilities(rawValue: 1 << 0)
    /// Every query sees every key.
    public static let bidirectional = AttentionCapabilities(rawValue: 1 << 1)
    /// Keys and values of a memory of earlier hidden states.
    public static let memory = AttentionCapabilities(rawValue: 1 << 2)
    /// Keys and values from another sequence.
    public static let crossAttention = AttentionCapabilities(rawValue: 1 << 3)
    /// Decoding a few positions at a time against a cache.
    public static let incremental = AttentionCapabilities(rawValue: 1 << 4)
    /// A score term from ``RelativePositionEncoding``.
    public static let relativePositions = AttentionCapabilities(rawValue: 1 << 5)
    /// Longformer's global tokens.
    public static let globalTokens = AttentionCapabilities(rawValue: 1 << 6)

    /// Every capability with its name, in a fixed order.
    public static let named: [(AttentionCapabilities, String)] = [
        (.causal, "causal attention"), (.bidirectional, "bidirectional attention"), (.memory, "memory"),
        (.crossAttention, "cross-attention"), (.incremental, "incremental decoding"),
        (.relativePositions, "relative positions"), (.globalTokens, "global tokens"),
    ]

    /// The names of the capabilities in this set.
    public var names: [String] { Self.named.filter { contains($0.0) }.map(\.1) }
}

/// A mechanism was asked for something it cannot do.
public struct AttentionCapabilityError: Error, CustomStringConvertible, Equatable {
    /// The mechanism's registry name.
    public let mechanism: String
    /// The capability it lacks (``AttentionCapabilities/names``).
    public let capability: String

    public init(mechanism: String, capability: String) {
        self.mechanism = mechanism
        self.capability = capability
    }

    public var description: String { "the \(mechanism) attention mechanism does not support \(capability)" }
}

/// State a mechanism keeps between calls when it decodes a few positions at a time: keys and
/// values seen so far, or the mechanism's own summary of them (Performer's prefix sums).
public protocol AttentionCache: AnyObject {
    /// Positions seen so far.
    var length: Int { get }
}
