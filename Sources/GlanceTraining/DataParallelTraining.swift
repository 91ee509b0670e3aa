import Foundation
import GlanceCore
import GlanceModels
import GlanceNN

/// Data parallelism: the processes of a ``ProcessGroup`` train one model together. Every
/// process draws the same whole batch from its sampler (so the sampler states stay equal and
/// a checkpoint resumes for any number of processes) and takes a contiguous share of it:
/// rank r of R the examples r·B/R ..< (r+1)·B/R. Each share is split into
/// `accumulation_steps` micro-batches, so R processes compute the same micro-batches as one
/// process with R × `accumulation_steps`, and their gradients are summed in the same order.
extension Trainer {
    /// Trains in `group` from now on: checks that the batch divides into the group's
    /// micro-batches and gives every process rank 0's parameters. Call it before
    /// ``resume(from:)`` and the first step, on every process.
    public func join(_ group: any ProcessGroup) throws {
        let microBatches = group.size * settings.accumulationSteps
        guard settings.batchSize % microBatches == 0 else {
            throw ConfigurationValueError(field: "training.batch_size",
                                          reason: "must divide into \(group.size) processes × accumulation_steps \(settings.accumulationSteps) "
                                              + "= \(microBatches) equal micro-batches, got \(settings.batchSize)")
        }
        self.group = group
        guard group.size > 1 else { return }
        let parameters = model.trainableParameters()
        var values = Self.flatten(parameters.map { $0.parameter.value })
        try group.broadcastFromRankZero(&values)
        try model.update(parameters: Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), Self.unflatten(values, like: parameters.map(\.parameter.value)))))
    }

    /// This process's share of a whole batch; nil when a short batch (the end of a
    /// classifier's epoch) leaves none for it.
    func share(of batch: Task.Batch) -> Task.Batch? {
        guard group.size > 1 else { return batch }
        let shares = batch.split(size: settings.batchSize / group.size)
        return group.rank < shares.count ? shares[group.rank] : nil
    }

    /// Runs `body` (one step's forward and backward passes) with a dropout stream of this
    /// rank's own: in a group of several, each rank draws from a stream seeded by the shared
    /// generator and its rank, and the shared generator moves on by one draw, the same on every
    /// rank, so that checkpoints (which save the shared generator) resume exactly.
    func withDropoutStreamOfThisRank<Result>(_ body: () throws -> Result) throws -> Result {
        guard group.size > 1 else { return try body() }
        let source = task.randomSource
        var shared = source.generator
        let seed = shared.next()
        source.generator = RandomGenerator(seed: seed ^ (UInt64(group.rank) &* 0x9E37_79B9_7F4A_7C15))
        defer { source.generator = shared }
        return try body()
    }

    /// Replaces this process's loss and gradients with their sums over the group, in rank order.
    func sumOverGroup(loss: inout Float, gradients: inout [String: Tensor]) throws {
        if carried.contains(where: { !$0.isEmpty }) {
            throw DataParallelError.carriedState(task: Task.name)
        }
        let started = Date()
        defer { communicationSeconds += Date().timeIntervalSince(started) }
        // Every parameter in a fixed order (zeros where this share gave no gradient), then whether
        // it had one (a parameter gets its summed gradient when some rank had one), then the loss.
        let parameters = model.trainableParameters()
        let local = parameters.map { gradients[$0.key] ?? Tensor.zeros($0.parameter.shape) }
        var values = Self.flatten(local)
        values += parameters.map { gradients[$0.key] == nil ? 0 : 1 }
        values.append(loss)
        try group.sumInRankOrder(&values)
        loss = values.removeLast()
        let present = values.suffix(parameters.count).map { $0 > 0 }
        values.removeLast(parameters.count)
        gradients = [:]
        for ((entry, sum), hasGradient) in zip(zip(parameters, Self.unflatten(values, like: local)), present) where hasGradient {
            gradients[entry.key] = sum
        }
    }

    /// The checkpoint file's tensors and metadata: read by rank 0 and sent to the others, so
    /// that only rank 0 needs the run folder.
    func readCheckpoint(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func readHere() throws -> (tensors: [String: Tensor], metadata: [String: String]) {
            guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.missing(path: url.path) }
            return try SafeTensors.read(from: url)
        }
        guard group.size > 1 else { return try readHere() }
        let bytes = group.rank == 0 ? (try? Data(contentsOf: url)).map { [UInt8]($0) } : nil
        let received = try group.broadcastFromRankZero(bytes)
        if group.rank == 0 { return try readHere() }
        guard let received else { throw DataParallelError.noCheckpointFromRankZero(path: url.path) }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("glance-rank\(group.rank)-\(UUID().uuidString).safetensors")
        try Data(received).write(to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        return try SafeTensors.read(from: copy)
    }

    static func flatten(_ tensors: [Tensor]) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(tensors.reduce(1) { $0 + $1.count })
        for tensor in tensors { tensor.withUnsafeBufferPointer { values.append(contentsOf: $0) } }
        return values
    }

    /// `values` cut into tensors of the shapes of `like`.
    static func unflatten(_ values: [Float], like tensors: [Tensor]) -> [Tensor] {
        var offset = 0
        return tensors.map { tensor in
            defer { offset += tensor.count }
            return Tensor(Array(values[offset..<offset + tensor.count]), shape: tensor.shape)
        }
    }
}

/// Why a run cannot train in a group of processes.
public enum DataParallelError: Error, CustomStringConvertible {
    case carriedState(task: String)
    case noCheckpointFromRankZero(path: String)

    public var description: String {
        switch self {
        case let .carriedState(task):
            "this \(task) model carries tensors from step to step (a Transformer-XL memory, mem_len > 0): "
                + "it trains in one process only for now"
        case let .noCheckpointFromRankZero(path):
            "rank 0 could not read the checkpoint \(path) (its own message says why)"
        }
    }
}
