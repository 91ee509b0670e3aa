import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Two layers that share one weight (each with its own bias), a sub-module held twice, and a
/// parameter under an underscored name (reflected like any other).
final class SharingModel: Module, @unchecked Sendable {
    let first: Linear
    let second: Linear
    let _gate: Parameter
    let repeated: [Linear]

    /// `tied` false gives `second` a weight of its own holding the same values: the same
    /// function with the two uses of the weight kept apart.
    init(tied: Bool = true, seed: UInt64 = 1) {
        var generator = RandomGenerator(seed: seed)
        first = Linear(3, 3, generator: &generator)
        second = tied ? Linear(sharing: first.weight) : Linear(sharing: Parameter(first.weight.value))
        _gate = Parameter(.randomNormal(shape: [3], generator: &generator))
        let inner = Linear(3, 3, generator: &generator)
        repeated = [inner, inner]
        var random = TestRandom(seed: seed &+ 1)
        for layer in [first, second, inner] { layer.bias!.value = random.normal([3], standardDeviation: 0.5) }
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { repeated[1](tanh(repeated[0](tanh(second(tanh(first(x))))))) * _gate.value }
}

/// Parameters shared by identity: listed, differentiated, optimized, saved and loaded once.
@Suite struct SharedParameterTests {
    @Test("a shared parameter or module is listed once, under its first key; the other keys are aliases")
    func listing() {
        let model = SharingModel()
        #expect(model.namedParameters().map(\.key) == ["first.weight", "first.bias", "second.bias", "_gate", "repeated.0.weight", "repeated.0.bias"])
        #expect(model.trainableParameters().count == 6)
        #expect(model.parameterAliases() == ["second.weight": "first.weight", "repeated.1.weight": "repeated.0.weight", "repeated.1.bias": "repeated.0.bias"])
        #expect(model.namedModules().map(\.key) == ["", "first", "second", "repeated.0"])
        #expect(model.parameterCount() == 9 + 3 + 3 + 3 + 9 + 3)
        #expect(Set(model.parameterValues().keys) == Set(model.namedParameters().map(\.key)))
        #expect(SharingModel(tied: false).parameterAliases() == ["repeated.1.weight": "repeated.0.weight", "repeated.1.bias": "repeated.0.bias"])
    }

    @Test("the gradient of a parameter used twice is the sum over its uses, and matches finite differences")
    func gradientIsTheSum() {
        let x = randomTensor([4, 3], seed: 5)
        expectModelGradientsMatch(SharingModel(), inputs: [x]) { model, inputs in model(inputs[0]) }
        let loss = { (model: SharingModel) in (model(x) * randomTensor([4, 3], seed: 6)).sum() }
        let tied = valueAndGradient(model: SharingModel(), loss).gradients
        let apart = valueAndGradient(model: SharingModel(tied: false), loss).gradients
        #expect(tied["second.weight"] == nil)
        #expect(relativeError(tied["first.weight"]!, apart["first.weight"]! + apart["second.weight"]!) <= 1e-6)
        #expect(relativeError(tied["second.bias"]!, apart["second.bias"]!) <= 1e-6)
    }

    @Test("one AdamW step moves a shared parameter once, as a single parameter with the summed gradient")
    func oneUpdatePerStep() {
        let model = SharingModel()
        let initial = model.first.weight.value
        let (_, gradients) = valueAndGradient(model: model) { ($0(randomTensor([4, 3], seed: 7)) * randomTensor([4, 3], seed: 8)).sum() }
        let optimizer = AdamW(learningRate: 0.01, weightDecay: 0.1)
        optimizer.update(model: model, gradients: gradients)
        // The same update by hand, for one parameter with that gradient.
        let (lr, decay, b1, b2, eps): (Float, Float, Float, Float, Float) = (0.01, 0.1, 0.9, 0.999, 1e-8)
        let g = gradients["first.weight"]!.scalars
        let expected = zip(initial.scalars, g).map { p, g -> Float in
            let m = (1 - b1) * g, v = (1 - b2) * g * g
            let decayed = p - lr * decay * p
            return decayed - lr * (m / (1 - b1)) / ((v / (1 - b2)).squareRoot() + eps)
        }
        #expect(isClose(model.first.weight.value.scalars, expected, relativeTolerance: 1e-6))
        #expect(model.second.weight === model.first.weight)
        #expect(optimizer.stateTensors().keys.sorted() == ["first.bias", "first.weight", "second.bias", "_gate", "repeated.0.weight", "repeated.0.bias"]
            .flatMap { ["m.\($0)", "v.\($0)"] }.sorted())
        // Adam's first step moves each element by about the learning rate, not twice that.
        let moved = zip(model.first.weight.value.scalars, initial.scalars).map { Swift.abs($0 - $1) }.max()!
        #expect(moved <= 0.012, "largest change \(moved)")
    }

    @Test("a checkpoint stores a shared parameter once; loading accepts its first key or an alias, not both")
    func checkpoint() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("shared.safetensors")
        let model = SharingModel(seed: 1)
        try model.save(to: url)
        let (stored, _) = try SafeTensors.read(from: url)
        #expect(stored.keys.sorted() == model.namedParameters().map(\.key).sorted())
        let other = SharingModel(seed: 2)
        try other.load(from: url)
        #expect(other.second.weight === other.first.weight && other.repeated[0] === other.repeated[1])
        for (key, value) in model.parameterValues() { #expect(other.parameterValues()[key]!.scalars == value.scalars, "\(key)") }
        // A foreign checkpoint may name the shared weight by its alias.
        var aliased = SharingModel(seed: 3).parameterValues()
        aliased["second.weight"] = aliased.removeValue(forKey: "first.weight")
        try other.update(parameters: aliased)
        #expect(other.first.weight.value.scalars == aliased["second.weight"]!.scalars)
        aliased["first.weight"] = aliased["second.weight"]
        #expect {
            try other.update(parameters: aliased)
        } throws: { error in
            guard let error = error as? ParameterLoadingError else { return false }
            return error.repeated == [["first.weight", "second.weight"]] && error.description.contains("first.weight and second.weight")
        }
        // An alias with the wrong shape is named as given.
        #expect {
            try other.update(parameters: ["repeated.1.bias": .zeros([4])], requireAll: false)
        } throws: { error in (error as? ParameterLoadingError)?.mismatched.map(\.key) == ["repeated.1.bias"] }
    }
}
