import GlanceCore
import GlanceNN

/// Which projections of a Linformer are shared (Wang et al. 2020, §4 "Additional efficiency
/// techniques").
public enum LinformerSharing: String, CaseIterable, Sendable {
    /// Every head has its own E and F ([heads, n, k] each). The reference package has no
    /// such mode.
    case none
    /// One E and one F per layer, shared by all heads: lucidrains `LinformerSelfAttention`'s
    /// default (`proj_k`, `proj_v`). Glance's default.
    case headwise
    /// One projection per layer, E = F, shared by all heads. lucidrains' `share_kv=True` also
    /// shares the key and value *linear layers* (values = keys); Glance keeps separate key
    /// and value linear layers as the paper does, so that mode is E = F plus equal weights.
    case keyValue = "key-value"
    /// One projection (E = F) shared by all heads and all layers: build the first layer
    /// normally and pass its ``Linformer/sharedProjection`` to the others. A single layer in
    /// this mode is the same as `key-value`. The reference package has no such mode.
    case layerwise

    /// The names accepted in configs and on the command line.
    public static var names: [String] { allCases.map(\.rawValue) }
}

/// The sequence projections E (keys) and F (values) of one Linformer layer, or of several
/// layers under layerwise sharing.
///
/// Each is [maximumLength, k], or [heads, maximumLength, k] under ``LinformerSharing/none``;
/// inputs of length n < maximumLength use the first n rows. Values start uniform in
/// ±1/√k, as in the reference package.
public final class LinformerProjection: Module {
    /// E, applied to keys.
    public let key: Parameter
    /// F, applied to values; nil when values use E too (key-value and layerwise sharing).
    public let value: Parameter?
    public let maximumLength: Int
    public let projectedLength: Int
    public let sharing: LinformerSharing

    public init(maximumLength: Int, projectedLength: Int, heads: Int, sharing: LinformerSharing,
                generator: inout RandomGenerator) throws {
        try Linformer.validate(maximumLength: maximumLength, projectedLength: projectedLength)
        let shape = sharing == .none ? [heads, maximumLength, projectedLength] : [maximumLength, projectedLength]
        let bound = 1 / Float(projectedLength).squareRoot()
        key = Parameter(.randomUniform(shape: shape, lower: -bound, upper: bound, generator: &generator))
        let separateValues = sharing == .none || sharing == .headwise
        value = separateValues ? Parameter(.randomUniform(shape: shape, lower: -bound, upper: bound, generator: &generator)) : nil
        self.maximumLength = maximumLength
        self.projectedLength = projectedLength
        self.sharing = sharing
        super.init()
    }

    /// Column groups of the keys that share one projection: heads without sharing, else 1.
    var groups: Int { key.value.rank == 3 ? key.value.shape[0] : 1 }
}

/// Linformer self-attention (Wang et al. 2020): keys and values are projected along the
/// sequence, n → k, by learned matrices E and F, and every query attends exactly (softmax)
/// to the k projected keys, so time and memory grow linearly in n.
///
/// Layout follows lucidrains `linformer` 0.2.3 (`LinformerSelfAttention`), so its weights map
/// one to one: `to_q`/`to_k`/`to_v` → `query`/`key`/`value` (no bias), `to_out` → `output`
/// (with bias), `proj_k`/`proj_v` → `projection.key`/`projection.value`.
///
/// - Key padding: padded positions of the projected keys and values are set to zero before
///   the sequence projection, so they have no influence on the output (the reference
///   package ignores masks).
/// - Not causal: a projected key mixes all positions, future ones included. Its capabilities
///   say so, and a causal mask in the forward pass stops with a precondition.
/// - Inputs shorter than the maximum length use the first rows of E and F; longer inputs
///   stop with a precondition.
/// - Layerwise sharing: layers built with `sharedProjection:` hold that projection as their
///   own `projection`. Parameters are shared by identity (see ``Module``), so a model holding
///   several such layers lists, saves, loads and optimizes the shared E once, under the first
///   layer's key, with the gradient summed over all layers.
public final class Linformer: Module, AttentionMechanism, ApproximateAttention {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    /// The projections E and F this layer uses: its own, or under layerwise sharing the one
    /// it was given.
    public let projection: LinformerProjection
    public let heads: Int
    /// One key and value head shared by all query heads (lucidrains `one_kv_head`).
    public let oneKeyValueHead: Bool

    /// Checks of the sizes that every construction path shares.
    static func validate(maximumLength: Int, projectedLength: Int) throws {
        guard maximumLength >= 1 else {
            throw AttentionConfigurationError(field: "max_length", reason: "must be at least 1, got \(maximumLength)")
        }
        guard projectedLength >= 1 else {
            throw AttentionConfigurationError(field: "linformer_k", reason: "the projected length k must be at least 1, got \(projectedLength)")
        }
        guard projectedLength <= maximumLength else {
            throw AttentionConfigurationError(field: "linformer_k",
                                              reason: "the projected length k = \(projectedLength) exceeds the maximum sequence length \(maximumLength)")
        }
    }

    /// - Parameters:
    ///   - maximumLength: the longest input (n of E and F).
    ///   - projectedLength: k, the projected sequence length.
    ///   - sharedProjection: under layerwise sharing, the projection of another layer to use.
    public init(modelDimensions: Int, heads: Int, maximumLength: Int, projectedLength: Int,
                sharing: LinformerSharing = .headwise, oneKeyValueHead: Bool = false,
                sharedProjection: LinformerProjection? = nil,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil,
                generator: inout RandomGenerator) throws {
        try checkHeadSplit(modelDimensions: modelDimensions, heads: heads)
        try Self.validate(maximumLength: maximumLength, projectedLength: projectedLength)
        if oneKeyValueHead && sharing == .none {
            throw AttentionConfigurationError(field: "linformer_sharing", reason: "'none' (one projection per head) needs a key/value head per query head, not one_kv_head")
        }
        if let shared = sharedProjection {
            guard sharing == .layerwise else {
                throw AttentionConfigurationError(field: "linformer_sharing", reason: "a shared projection is only used with 'layerwise' sharing, not '\(sharing.rawValue)'")
            }
            guard shared.sharing == .layerwise, shared.maximumLength == maximumLength, shared.projectedLength == projectedLength else {
                throw AttentionConfigurationError(field: "linformer_sharing",
                                                  reason: "the shared projection (\(shared.sharing.rawValue), n = \(shared.maximumLength), k = \(shared.projectedLength)) does not match this layer (layerwise, n = \(maximumLength), k = \(projectedLength))")
            }
        }
        let keyValueWidth = oneKeyValueHead ? modelDimensions / heads : modelDimensions
        query = Linear(modelDimensions, modelDimensions, bias: false, standardDeviation: standardDeviation, generator: &generator)
        key = Linear(modelDimensions, keyValueWidth, bias: false, standardDeviation: standardDeviation, generator: &generator)
        value = Linear(modelDimensions, keyValueWidth, bias: false, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(modelDimensions, modelDimensions, standardDeviation: outputStandardDeviation ?? standardDeviation, generator: &generator)
        projection = try sharedProjection ?? LinformerProjection(maximumLength: maximumLength, projectedLength: projectedLength,
                                                                   heads: heads, sharing: sharing, generator: &generator)
        self.heads = heads
        self.oneKeyValueHead = oneKeyValueHead
        super.init()
    }

    public var modelDimensions: Int { query.inputCount }
    public var maximumLength: Int { projection.maximumLength }
    public var projectedLength: Int { projection.projectedLength }
    public var sharing: LinformerSharing { projection.sharing }
    /// The projections this layer uses (``projection``): pass them to other layers for
    /// layerwise sharing.
    public var sharedProjection: LinformerProjection { projection }

    public static let mechanismName = "linformer"
    /// Bidirectional only: each projected key mixes all positions, future ones included.
    public var capabilities: AttentionCapabilities { [.bidirectional] }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "Linformer expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        let mask = context.mask
        precondition(input.shape[1] <= maximumLength,
                     "Linformer input of length \(input.shape[1]) exceeds its maximum length \(maximumLength) (max_length)")
        let q = query(input).splittingHeads(heads)
        let (k, v) = projectedKeysAndValues(keys: key(input), values: value(input), keyPadding: mask.keyPadding)
        let attended = scaledDotProductAttention(queries: q, keys: k, values: v)
        return AttentionOutput(output(attended.mergingHeads()))
    }

    /// Keys and values [B, n, C] → projected along the sequence and split into heads,
    /// [B, heads, k, C/heads] (one key/value head broadcast to all heads when C is a head).
    func projectedKeysAndValues(keys: Tensor, values: Tensor, keyPadding: [[Bool]]?) -> (Tensor, Tensor) {
        let e = projection.key.value, f = projection.value?.value ?? e
        let projectedKeys = projectAlongSequence(keys, by: e, keep: keyPadding)
        let projectedValues = projectAlongSequence(values, by: f, keep: keyPadding)
        let headWidth = modelDimensions / heads
        func split(_ t: Tensor) -> Tensor {
            if t.shape[2] == modelDimensions { return t.splittingHeads(heads) }
            let (batch, length) = (t.shape[0], t.shape[1])
            return t.reshaped(to: [batch, 1, length, headWidth]).broadcast(to: [batch, heads, length, headWidth])
        }
        return (split(projectedKeys), split(projectedValues))
    }

    /// The attention core alone on per-head q, k, v [B, heads, n, d]: keys and values
    /// projected by E and F, then exact softmax attention over the k projected positions.
    public func approximateAttention(queries: Tensor, keys: Tensor, values: Tensor, mask: AttentionMask) -> Tensor {
        precondition(!mask.causal, "Linformer is not causal")
        precondition(keys.shape[2] <= maximumLength, "Linformer input of length \(keys.shape[2]) exceeds its maximum length \(maximumLength)")
        let e = projection.key.value, f = projection.value?.value ?? e
        let heads = keys.shape[1]
        let k = projectAlongSequence(keys.mergingHeads(), by: e, keep: mask.keyPadding).splittingHeads(heads)
        let v = projectAlongSequence(values.mergingHeads(), by: f, keep: mask.keyPadding).splittingHeads(heads)
        return scaledDotProductAttention(queries: queries, keys: k, values: v)
    }

    /// Reports k alongside the approximation error.
    public var approximationSettings: [String: Int] { ["k": projectedLength] }
}

/// Projection along the sequence: for x [B, n, C] and E [N, k] (N ≥ n) returns Eₙᵀ·x[b] for
/// each b, [B, k, C], where Eₙ is the first n rows of E. With E [G, N, k] the C columns form
/// G equal groups, group g projected by E[g]. Rows where `keep[b][i]` is false count as zero.
/// Forward and backward are BLAS products: dx[b] = Eₙ·g[b] (masked rows zero) and
/// dEₙ = Σ_b x[b]·g[b]ᵀ (rows n..<N of dE are zero).
public func projectAlongSequence(_ x: Tensor, by e: Tensor, keep: [[Bool]]? = nil) -> Tensor {
    precondition(x.rank == 3, "projectAlongSequence expects x [batch, length, channels], got \(x.shape)")
    precondition(e.rank == 2 || e.rank == 3, "projection must be [N, k] or [groups, N, k], got \(e.shape)")
    let (batch, length, channels) = (x.shape[0], x.shape[1], x.shape[2])
    let groups = e.rank == 3 ? e.shape[0] : 1
    let (rows, projected) = (e.shape[e.rank - 2], e.shape[e.rank - 1])
    precondition(length <= rows, "sequence of length \(length) is longer than the projection's \(rows) rows")
    precondition(channels % groups == 0, "\(channels) channels do not split into \(groups) projection groups")
    if let keep { precondition(keep.count == batch && keep.allSatisfy { $0.count == length }, "key padding mask must be \(batch) × \(length)") }
    let width = channels / groups
    // Zero the padded rows (a copy only when some row is padded).
    var masked = x.detached()
    if let keep, keep.contains(where: { $0.contains(false) }) {
        masked.withUnsafeMutableBufferPointer { buffer in
            for b in 0..<batch {
                for i in 0..<length where !keep[b][i] {
                    (buffer.baseAddress! + (b * length + i) * channels).update(repeating: 0, count: channels)
                }
            }
        }
    }
    let tasks = batch * groups
    let xs = masked
    let output = Tensor(shape: [batch, projected, channels]) { out in
        xs.withUnsafeBufferPointer { xb in
            e.withUnsafeBufferPointer { eb in
                let (px, pe, po) = (SendablePointer(xb.baseAddress!), SendablePointer(eb.baseAddress!), SendablePointer(out.baseAddress!))
                func product(_ task: Int, parallel: Bool) {
                    let (b, g) = (task / groups, task % groups)
                    let a = pe.base + g * rows * projected, source = px.base + b * length * channels + g * width
                    let target = po.base + b * projected * channels + g * width
                    BLAS.sgemm(split: parallel, transposeA: true, transposeB: false, m: projected, n: width, k: length,
                               a: a, lda: projected, b: source, ldb: channels, c: target, ldc: channels)
                }
                BLAS.independentProducts(tasks) { product($0, parallel: $1) }
            }
        }
    }
    let ed = e.detached()
    let needX = x.requiresGradient, needE = e.requiresGradient
    return output.recorded(from: [x, e]) { gradient in
        var dx: Tensor? = nil, de: Tensor? = nil
        gradient.withUnsafeBufferPointer { gb in
            let pg = SendablePointer(gb.baseAddress!)
            if needX {
                dx = Tensor(shape: [batch, length, channels]) { out in
                    ed.withUnsafeBufferPointer { eb in
                        let (pe, pd) = (SendablePointer(eb.baseAddress!), SendablePointer(out.baseAddress!))
                        func product(_ task: Int, parallel: Bool) {
                            let (b, g) = (task / groups, task % groups)
                            let a = pe.base + g * rows * projected, source = pg.base + b * projected * channels + g * width
                            let target = pd.base + b * length * channels + g * width
                            BLAS.sgemm(split: parallel, transposeA: false, transposeB: false, m: length, n: width, k: projected,
                                       a: a, lda: projected, b: source, ldb: channels, c: target, ldc: channels)
                        }
                        BLAS.independentProducts(tasks) { product($0, parallel: $1) }
                        if let keep {
                            for b in 0..<batch {
                                for i in 0..<length where !keep[b][i] {
                                    (pd.base + (b * length + i) * channels).update(repeating: 0, count: channels)
                                }
                            }
                        }
                    }
                }
            }
            if needE {
                de = Tensor(shape: e.shape, repeating: 0)
                de!.withUnsafeMutableBufferPointer { db in
                    xs.withUnsafeBufferPointer { xb in
                        let (px, pd) = (SendablePointer(xb.baseAddress!), SendablePointer(db.baseAddress!))
                        // dE[g][:n] = Σ_b x[b, :, group g] · g[b, :, group g]ᵀ.
                        func accumulate(_ g: Int, parallel: Bool) {
                            for b in 0..<batch {
                                let a = px.base + b * length * channels + g * width, source = pg.base + b * projected * channels + g * width
                                let target = pd.base + g * rows * projected
                                BLAS.sgemm(split: parallel, transposeA: false, transposeB: true, m: length, n: projected, k: width,
                                           a: a, lda: channels, b: source, ldb: channels, beta: 1, c: target, ldc: projected)
                            }
                        }
                        BLAS.independentProducts(groups) { accumulate($0, parallel: $1) }
                    }
                }
            }
        }
        return [dx, de]
    }
}

extension LinformerSharing: Codable {}

/// Linformer's options: `{"type": "linformer", "k": 256, "sharing": "headwise"}`.
public struct LinformerOptions: AttentionOptions {
    public static let mechanism = Linformer.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("k", "integer", default: "min(256, maximum length)", "Projected sequence length k, at most the maximum length."),
        AttentionOptionDocumentation("sharing", "string", default: "headwise",
                                     "Projection sharing: none (per head), headwise, key-value (E = F) or layerwise (E = F in every layer)."),
    ]
    public static let formerNames = ["linformer_k": "k", "linformer_sharing": "sharing"]

    /// Projected length k (nil: min(256, maximum length)).
    public var k: Int?
    public var sharing: LinformerSharing

    public init() { self.init(k: nil) }

    public init(k: Int? = nil, sharing: LinformerSharing = .headwise) {
        self.k = k
        self.sharing = sharing
    }

    enum CodingKeys: String, CodingKey { case k, sharing }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(k: try c.decodeIfPresent(Int.self, forKey: .k), sharing: try c.choice(.sharing, default: .headwise))
    }

    /// k for sequences of at most `maximumLength`.
    public func projectedLength(maximumLength: Int) -> Int { k ?? min(256, maximumLength) }

    public func validate(for shape: AttentionShape) throws {
        if let k, k < 1 || k > shape.maximumLength {
            throw AttentionConfigurationError(field: "k", reason: "must be between 1 and the maximum length (\(shape.maximumLength)), got \(k)")
        }
    }

    /// Under layerwise sharing, the first layer built leaves its projection for the others.
    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let shared = sharing == .layerwise ? build.shared[Self.mechanism] as? LinformerProjection : nil
        let layer = try Linformer(modelDimensions: shape.modelDimensions, heads: shape.heads, maximumLength: shape.maximumLength,
                                  projectedLength: projectedLength(maximumLength: shape.maximumLength), sharing: sharing,
                                  sharedProjection: shared, standardDeviation: shape.standardDeviation,
                                  outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
        if sharing == .layerwise && shared == nil { build.shared[Self.mechanism] = layer.sharedProjection }
        return layer
    }
}
