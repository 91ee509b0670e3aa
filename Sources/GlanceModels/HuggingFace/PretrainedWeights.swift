import GlanceCore
import GlanceNN

/// Where a Hugging Face model's layers get their weights as they are built: drawn at random
/// (a fresh model, ``RandomWeights``) or taken from a checkpoint (``CheckpointWeights``), so
/// that loading draws nothing only to overwrite it. Keys are Glance's parameter keys.
protocol PretrainedWeights {
    /// A layer with parameters `key` + "weight" [outputs, inputs] and `key` + "bias" [outputs].
    mutating func linear(_ key: String, _ inputs: Int, _ outputs: Int) -> Linear
    /// A table with parameter `key` + "weight" [count, dimensions].
    mutating func embedding(_ key: String, count: Int, dimensions: Int) -> Embedding
}

/// Weights drawn from N(0, `standardDeviation`²), biases zero, in the order the layers ask.
struct RandomWeights: PretrainedWeights {
    var generator: RandomGenerator
    let standardDeviation: Float

    mutating func linear(_ key: String, _ inputs: Int, _ outputs: Int) -> Linear {
        Linear(inputs, outputs, standardDeviation: standardDeviation, generator: &generator)
    }

    mutating func embedding(_ key: String, count: Int, dimensions: Int) -> Embedding {
        Embedding(count: count, dimensions: dimensions, standardDeviation: standardDeviation, generator: &generator)
    }
}

/// A checkpoint's tensors under Glance's keys, used as they are (no copy). A key that is
/// missing or has another shape gets zeros of the shape the layer needs, so that building
/// never fails on it: `Module.update(parameters:)` with the same tensors afterwards reports
/// every such key at once (and every tensor the model does not have).
struct CheckpointWeights: PretrainedWeights {
    let tensors: [String: Tensor]

    func tensor(_ key: String, shape: [Int]) -> Tensor {
        if let tensor = tensors[key], tensor.shape == shape { return tensor }
        return .zeros(shape)
    }

    func linear(_ key: String, _ inputs: Int, _ outputs: Int) -> Linear {
        Linear(weight: tensor(key + "weight", shape: [outputs, inputs]), bias: tensor(key + "bias", shape: [outputs]))
    }

    func embedding(_ key: String, count: Int, dimensions: Int) -> Embedding {
        Embedding(weight: tensor(key + "weight", shape: [count, dimensions]))
    }
}
