import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

final class Block: Module, @unchecked Sendable {
    let attention: Linear
    let norm: LayerNorm?
    let count = 3       // not a parameter

    init(norm: Bool, generator: inout RandomGenerator) {
        attention = Linear(2, 2, generator: &generator)
        self.norm = norm ? LayerNorm(dimensions: 2) : nil
        super.init()
    }
}

class BaseModel: Module, @unchecked Sendable {
    let embedding: Embedding
    init(generator: inout RandomGenerator) {
        embedding = Embedding(count: 4, dimensions: 2, generator: &generator)
        super.init()
    }
}

final class TinyModel: BaseModel, @unchecked Sendable {
    let blocks: [Block]
    let head: Linear?
    let absent: Linear?
    let scale: Parameter
    let frozen: Parameter
    let optionalScale: Parameter?
    let dropout: Dropout

    override init(generator: inout RandomGenerator) {
        blocks = [Block(norm: true, generator: &generator), Block(norm: false, generator: &generator)]
        head = Linear(2, 3, bias: false, generator: &generator)
        absent = nil
        scale = Parameter(.ones([1]))
        frozen = Parameter(.zeros([2]), trainable: false)
        optionalScale = Parameter(.full([1], 2))
        dropout = Dropout(probability: 0.5, source: RandomSource(seed: 1))
        super.init(generator: &generator)
    }
}

func makeTinyModel(seed: UInt64 = 1) -> TinyModel {
    var generator = RandomGenerator(seed: seed)
    return TinyModel(generator: &generator)
}

@Suite struct ModuleTests {
    static let expectedKeys = [
        "embedding.weight",
        "blocks.0.attention.weight", "blocks.0.attention.bias", "blocks.0.norm.weight", "blocks.0.norm.bias",
        "blocks.1.attention.weight", "blocks.1.attention.bias",
        "head.weight", "scale", "frozen", "optionalScale",
    ]

    @Test func parameterKeysFollowDeclarationOrderAndNesting() {
        let model = makeTinyModel()
        #expect(model.namedParameters().map(\.key) == Self.expectedKeys)
        #expect(model.trainableParameters().map(\.key) == Self.expectedKeys.filter { $0 != "frozen" })
        #expect(model.parameterCount() == 8 + (4 + 2 + 2 + 2) + (4 + 2) + 6 + 1 + 1)
        #expect(model.parameterCount(trainableOnly: false) == model.parameterCount() + 2)
        #expect(Set(model.parameterValues().keys) == Set(Self.expectedKeys))
        #expect(model.parameterValues()["head.weight"]?.shape == [3, 2])
    }

    @Test func modulesAreFoundInArraysAndOptionals() {
        let model = makeTinyModel()
        #expect(model.namedModules().map(\.key) == [
            "", "embedding", "blocks.0", "blocks.0.attention", "blocks.0.norm", "blocks.1", "blocks.1.attention", "head", "dropout",
        ])
        #expect(model.namedModules()[0].module === model)
        #expect(model.namedModules().first { $0.key == "blocks.1" }?.module === model.blocks[1])
    }

    @Test func parametersAreSharedReferences() {
        let model = makeTinyModel()
        let found = model.namedParameters().first { $0.key == "blocks.0.attention.weight" }!.parameter
        #expect(found === model.blocks[0].attention.weight)
    }

    @Test func trainAndEvalPropagateToEverySubmodule() {
        let model = makeTinyModel()
        #expect(model.namedModules().allSatisfy { $0.module.isTraining })
        model.eval()
        #expect(model.namedModules().allSatisfy { !$0.module.isTraining })
        #expect(!model.blocks[1].attention.isTraining && !model.dropout.isTraining)
        model.train()
        #expect(model.namedModules().allSatisfy { $0.module.isTraining })
        model.blocks[0].train(false)
        #expect(!model.blocks[0].attention.isTraining && model.blocks[1].attention.isTraining && model.isTraining)
    }

    @Test func dropoutIsActiveOnlyInTraining() {
        let model = makeTinyModel()
        let x = Tensor.ones([1000])
        let trained = model.dropout(x)
        #expect(trained.scalars.contains(0) && trained.scalars.contains(2))
        model.eval()
        #expect(model.dropout(x).scalars == x.scalars)
    }

    @Test func updateReplacesValuesAndDetaches() throws {
        let model = makeTinyModel()
        var values = model.parameterValues()
        values["scale"] = Tensor([5]).requiringGradient()
        values["frozen"] = Tensor([7, 8])
        try model.update(parameters: values)
        #expect(model.scale.value.scalars == [5] && !model.scale.value.requiresGradient)
        #expect(model.frozen.value.scalars == [7, 8])
        try model.update(parameters: ["head.weight": Tensor.zeros([3, 2])], requireAll: false)
        #expect(model.head!.weight.value.scalars == [0, 0, 0, 0, 0, 0])
    }

    @Test func updateErrorNamesEveryProblemAndChangesNothing() {
        let model = makeTinyModel()
        let before = model.parameterValues()
        var values = before
        values.removeValue(forKey: "blocks.1.attention.bias")
        values.removeValue(forKey: "embedding.weight")
        values["blocks.2.attention.weight"] = Tensor.zeros([2, 2])
        values["head.weight"] = Tensor.zeros([2, 3])
        values["scale"] = Tensor.full([2], 9)
        values["optionalScale"] = Tensor.full([1], 42)  // valid, but must not be applied
        do {
            try model.update(parameters: values)
            Issue.record("update should have thrown")
        } catch let error as ParameterLoadingError {
            #expect(error.missing == ["blocks.1.attention.bias", "embedding.weight"])
            #expect(error.unexpected == ["blocks.2.attention.weight"])
            #expect(error.mismatched.map(\.key) == ["head.weight", "scale"])
            #expect(error.mismatched.map(\.expected) == [[3, 2], [1]] && error.mismatched.map(\.found) == [[2, 3], [2]])
            for key in ["blocks.1.attention.bias", "embedding.weight", "blocks.2.attention.weight", "head.weight", "scale", "[3, 2]", "[2, 3]"] {
                #expect(error.description.contains(key), "\(key) in \(error.description)")
            }
        } catch {
            Issue.record("unexpected error \(error)")
        }
        let after = model.parameterValues()
        for (key, value) in before { #expect(after[key]!.scalars == value.scalars, "\(key) changed") }
        // Partial updates still reject unknown keys and shapes.
        #expect(throws: ParameterLoadingError.self) { try model.update(parameters: ["nope": Tensor([1])], requireAll: false) }
        #expect(throws: ParameterLoadingError.self) { try model.update(parameters: ["scale": Tensor([1, 2])], requireAll: false) }
        #expect(model.scale.value.scalars == [1])
    }

    @Test func valueAndGradientKeysAndDetachesParameters() {
        let model = makeTinyModel()
        let x = Tensor([0.5, -1])
        let (value, grads) = valueAndGradient(model: model) { m in
            (m.head!(m.blocks[0].attention(x)) * m.scale.value * m.optionalScale!.value).sum()
        }
        #expect(value.shape == [] && !value.requiresGradient)
        #expect(Set(grads.keys) == Set(Self.expectedKeys.filter { $0 != "frozen" }))
        #expect(grads["embedding.weight"]!.scalars.allSatisfy { $0 == 0 })
        #expect(isClose(grads["scale"]!.scalars, [value.item()], relativeTolerance: 1e-6))
        #expect(model.namedParameters().allSatisfy { !$0.parameter.value.requiresGradient })
    }
}
