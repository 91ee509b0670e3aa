import Foundation
import GlanceCore
import GlanceNN

/// Performer attention (Choromanski et al. 2020, FAVOR+): softmax attention approximated by
/// m positive orthogonal random features, linear in the sequence length, bidirectional or
/// causal (prefix sums).
///
/// The projection matrix is shared by all heads, as in performer-pytorch. It is not a
/// parameter: it is drawn from `featureSeed` and the redraw index ⌊step / redrawInterval⌋
/// (a frozen parameter, `featureDraw`, saved with checkpoints), so a resumed run or a loaded
/// model recreates the features of its step.
public final class Performer: Module, AttentionMechanism, TrainingStepHooks {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int
    /// Number of random features m.
    public let features: Int
    public let kernel: PerformerKernel
    public let orthogonal: Bool
    /// Redraw the features every this many training steps (nil: never).
    public let redrawInterval: Int?
    /// Stabilizer of the softmax features; nil (the default): performer-pytorch's `.reference`
    /// for bidirectional attention and the causal-safe `.projectionBound` under causal masks.
    public var stabilizer: FeatureStabilizer? = nil
    /// Seed of the features; draw i uses a generator seeded from it and i.
    public let featureSeed: UInt64
    /// Index of the current draw (⌊step / redrawInterval⌋), kept as a frozen parameter so that
    /// checkpoints carry it and a loaded model uses the features it was trained with.
    public let featureDraw: Parameter
    public var drawIndex: Int { Int(featureDraw.value.item()) }
    private var _projectionDraw = 0
    /// The m × d projection matrix (d = head dimensions).
    public var projection: Tensor { refreshProjection(); return _projection }
    private var _projection: Tensor

    public init(modelDimensions: Int, heads: Int, features: Int, kernel: PerformerKernel = .softmax,
                orthogonal: Bool = true, redrawInterval: Int? = nil, standardDeviation: Float? = nil,
                outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        guard features >= 1 else { throw AttentionConfigurationError(field: "features", reason: "must be at least 1, got \(features)") }
        if let redrawInterval, redrawInterval < 1 {
            throw AttentionConfigurationError(field: "redraw_interval", reason: "must be at least 1 step, got \(redrawInterval)")
        }
        (query, key, value, output) = try multiHeadProjections(
            modelDimensions: modelDimensions, heads: heads, standardDeviation: standardDeviation,
            outputStandardDeviation: outputStandardDeviation, generator: &generator)
        self.heads = heads
        self.features = features
        self.kernel = kernel
        self.orthogonal = orthogonal
        self.redrawInterval = redrawInterval
        featureSeed = generator.next()
        featureDraw = Parameter(Tensor([0]), trainable: false)
        _projection = Performer.draw(seed: featureSeed, index: 0, features: features,
                                     dimensions: modelDimensions / heads, orthogonal: orthogonal)
        super.init()
    }

    static func draw(seed: UInt64, index: Int, features: Int, dimensions: Int, orthogonal: Bool) -> Tensor {
        var generator = RandomGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return performerProjection(features: features, dimensions: dimensions, orthogonal: orthogonal, generator: &generator)
    }

    public var modelDimensions: Int { query.inputCount }
    public var headDimensions: Int { modelDimensions / heads }

    /// Replaces the projection (e.g. by a reference implementation's, for parity tests).
    public func setProjection(_ matrix: Tensor) {
        precondition(matrix.shape == [features, headDimensions], "projection must be \([features, headDimensions]), got \(matrix.shape)")
        _projection = matrix
    }

    /// Redraws the features before each training step.
    public func beforeStep(_ step: Int) { redrawFeatures(step: step) }

    /// Makes the features those of training step `step` (0-based count of finished steps).
    /// Deterministic: the same step always gives the same features.
    public func redrawFeatures(step: Int) {
        guard let redrawInterval else { return }
        let index = step / redrawInterval
        if index != drawIndex { featureDraw.value = Tensor([Float(index)]) }
        refreshProjection()
    }

    /// Redraws the projection when the draw index changed (a redraw, or a loaded checkpoint).
    private func refreshProjection() {
        let index = drawIndex
        guard index != _projectionDraw else { return }
        _projectionDraw = index
        _projection = Performer.draw(seed: featureSeed, index: index, features: features,
                                     dimensions: headDimensions, orthogonal: orthogonal)
    }

    /// Attention of per-head queries, keys and values [B, H, n, d]. Causal attention with the
    /// projection-bound stabilizer runs fused (``fusedPerformerAttention``): no n × m features are stored.
    public func attend(queries q: Tensor, keys k: Tensor, values v: Tensor, mask: AttentionMask) -> Tensor {
        refreshProjection()
        let stabilizer = self.stabilizer ?? (mask.causal ? .projectionBound : .reference)
        if mask.causal && stabilizer == .projectionBound {
            return fusedPerformerAttention(queries: q, keys: k, values: v, projection: _projection, kernel: kernel, causal: true,
                                           keyPadding: mask.keyPadding)
        }
        let qf = performerFeatures(q, projection: _projection, kernel: kernel, role: .query, stabilizer: stabilizer)
        let kf = performerFeatures(k, projection: _projection, kernel: kernel, role: .key, stabilizer: stabilizer,
                                   keyPadding: mask.keyPadding)
        return linearAttention(queryFeatures: qf, keyFeatures: kf, values: v, causal: mask.causal)
    }

    public static let mechanismName = "performer"
    public var capabilities: AttentionCapabilities {
        decodesIncrementally ? [.causal, .bidirectional, .incremental] : [.causal, .bidirectional]
    }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "Performer expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        if let cache = context.incrementalCache(as: PerformerCache.self, mechanism: Self.mechanismName) {
            return attendIncrementally(input, cache: cache)
        }
        let q = query(input).splittingHeads(heads)
        let k = key(input).splittingHeads(heads)
        let v = value(input).splittingHeads(heads)
        return AttentionOutput(output(attend(queries: q, keys: k, values: v, mask: context.mask).mergingHeads()))
    }
}

/// Fidelity of Performer attention: ‖performer − exact‖ / ‖exact‖ (Frobenius norms over all
/// heads) for per-head q, k, v [B, H, n, d], with the given projection, against exact softmax
/// attention softmax(q·kᵀ/√d)·v on the same inputs.
public func performerRelativeError(queries q: Tensor, keys k: Tensor, values v: Tensor, projection: Tensor,
                                   kernel: PerformerKernel = .softmax, causal: Bool = false,
                                   stabilizer: FeatureStabilizer? = nil) -> Double {
    let stabilizer = stabilizer ?? (causal ? .projectionBound : .reference)
    return withoutGradients {
        let qf = performerFeatures(q, projection: projection, kernel: kernel, role: .query, stabilizer: stabilizer)
        let kf = performerFeatures(k, projection: projection, kernel: kernel, role: .key, stabilizer: stabilizer)
        let approximate = linearAttention(queryFeatures: qf, keyFeatures: kf, values: v, causal: causal).scalars
        let exact = scaledDotProductAttention(queries: q, keys: k, values: v, causal: causal).scalars
        var difference = 0.0, norm = 0.0
        for (a, e) in zip(approximate, exact) {
            difference += Double(a - e) * Double(a - e)
            norm += Double(e) * Double(e)
        }
        return (difference / Swift.max(norm, .leastNonzeroMagnitude)).squareRoot()
    }
}

extension Performer: ApproximateAttention {
    public func approximateAttention(queries: Tensor, keys: Tensor, values: Tensor, mask: AttentionMask) -> Tensor {
        attend(queries: queries, keys: keys, values: values, mask: mask)
    }

    public var approximationSettings: [String: Int] { ["features": features] }
}

extension PerformerKernel: Codable {}

/// Performer's options: `{"type": "performer", "features": 256, "kernel": "relu", "redraw_every": 1000}`.
public struct PerformerOptions: AttentionOptions {
    public static let mechanism = Performer.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("features", "integer", default: "⌊d·ln d⌋ (d: head dimensions)", "Random features m per head."),
        AttentionOptionDocumentation("kernel", "string", default: "softmax", "softmax (FAVOR+) or relu (Performer-ReLU)."),
        AttentionOptionDocumentation("orthogonal", "boolean", default: "true", "Orthogonal random features; false draws plain Gaussian ones."),
        AttentionOptionDocumentation("redraw_every", "integer", default: "never", "Redraw the random features every this many training steps (reproducible from the seed, saved with checkpoints)."),
    ]
    public static let formerNames = ["performer_features": "features", "performer_kernel": "kernel", "performer_redraw_every": "redraw_every"]

    /// Random features m (nil: ⌊d·ln d⌋ for head dimensions d, performer-pytorch's default).
    public var features: Int?
    public var kernel: PerformerKernel
    public var orthogonal: Bool
    /// Redraw interval in training steps (nil: never).
    public var redrawEvery: Int?

    public init() { self.init(features: nil) }

    public init(features: Int? = nil, kernel: PerformerKernel = .softmax, orthogonal: Bool = true, redrawEvery: Int? = nil) {
        self.features = features
        self.kernel = kernel
        self.orthogonal = orthogonal
        self.redrawEvery = redrawEvery
    }

    enum CodingKeys: String, CodingKey { case features, kernel, orthogonal, redrawEvery = "redraw_every" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(features: try c.decodeIfPresent(Int.self, forKey: .features), kernel: try c.choice(.kernel, default: .softmax),
                  orthogonal: try c.option(.orthogonal, default: true), redrawEvery: try c.decodeIfPresent(Int.self, forKey: .redrawEvery))
    }

    /// m for heads of `headDimensions`.
    public func featureCount(headDimensions d: Int) -> Int {
        features ?? Swift.max(1, Int(Double(d) * Foundation.log(Double(Swift.max(d, 1)))))
    }

    public func validate(for shape: AttentionShape) throws {
        try requireOption(features, atLeast: 1, "features")
        try requireOption(redrawEvery, atLeast: 1, "redraw_every")
    }

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try Performer(modelDimensions: shape.modelDimensions, heads: shape.heads, features: featureCount(headDimensions: shape.headDimensions),
                      kernel: kernel, orthogonal: orthogonal, redrawInterval: redrawEvery, standardDeviation: shape.standardDeviation,
                      outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
    }
}
