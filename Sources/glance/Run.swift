import ArgumentParser
import Foundation
import GlanceCore
import GlanceModels

/// `glance run`: runs a Hugging Face checkpoint (Longformer, Reformer or Transformer-XL) on token ids.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Hugging Face model folder (Longformer, Reformer or Transformer-XL) on token ids and write its outputs.",
        discussion: """
        --model is a folder with config.json and model.safetensors, as save_pretrained writes \
        it; config.json's model_type picks the model (\(PretrainedModelType.allCases.map(\.rawValue).joined(separator: ", "))). \
        Token ids come from the model's own tokenizer. Several sequences of one length are \
        separated by ';'. The output safetensors file (F32) holds:

        - longformer (LongformerModel, e.g. allenai/longformer-base-4096; RoBERTa's BPE ids, \
        <s> = 0, </s> = 2, <pad> = 1): last_hidden_state [batch, n, hidden_size]. \
        --global-attention marks global tokens.

        - reformer (ReformerModelWithLMHead, e.g. google/reformer-enwik8, whose ids are \
        byte + 2): last_hidden_state [batch, n, 2·hidden_size] and logits [batch, n, vocab_size]. \
        Hugging Face draws the LSH rotations from torch's random generator on every forward; \
        Glance draws them once per LSH layer from config.json's hash_seed (the same in every \
        layer, as hash_seed does in Hugging Face) or, without one, from the fixed seed 0 plus \
        the layer's index, so that runs are reproducible but differ from Hugging Face's. \
        --rotations gives them instead (e.g. the ones a Hugging Face forward drew), under the \
        keys layers.<i> (i: the layer's index in attn_layers), each [num_attention_heads, \
        attention_head_size, num_hashes, num_buckets/2 summed over factors]. With num_buckets \
        null the buckets are chosen from the padded input length, as Hugging Face does on its \
        first forward.

        - transfo-xl (TransfoXLLMHeadModel of transformers ≤ 4.57.6, e.g. transfo-xl-wt103 \
        converted to safetensors): log_probs [batch, n, vocab_size] (Hugging Face's \
        prediction_scores) and the memories for the next segment, mems.<i> [batch, M, d_model] \
        per layer i (batch first, M ≤ mem_len). --mems continues from a file of such memories \
        (e.g. this command's output for the previous segment). Without --mems a first segment \
        starts from mem_len zero vectors per layer, as Hugging Face does (--memory-start zeros), \
        or from no memory, as the authors' code does (--memory-start empty).
        """
    )

    @Option(help: "The model folder (config.json + model.safetensors).") var model: String
    @Option(name: .customLong("input-ids"), help: "Token ids, comma-separated; ';' between sequences.") var inputIDs: String
    @Option(name: .customLong("attention-mask"), help: "1 for a token, 0 for padding, like --input-ids (default: all 1).")
    var attentionMask: String?
    @Option(name: .customLong("global-attention"), help: "Longformer: positions (0-based) of global tokens, comma-separated; ';' between sequences.")
    var globalAttention: String?
    @Option(help: "Reformer: a safetensors file of LSH rotations, one tensor per LSH layer under 'layers.<i>' (default: drawn from hash_seed or seed 0).")
    var rotations: String?
    @Option(help: "Transformer-XL: a safetensors file of memories to continue from, 'mems.<i>' [batch, M, d_model] per layer (e.g. the previous segment's output; other tensors are ignored).")
    var mems: String?
    @Option(name: .customLong("memory-start"), help: "Transformer-XL without --mems: 'zeros' (mem_len zero vectors, Hugging Face's) or 'empty' (no memory, the authors').")
    var memoryStart: String = TransfoXLMemoryStart.zeros.rawValue
    @Option(help: "The safetensors file to write.") var output: String
    @Flag(help: "Print the seconds spent loading the model and running it to standard error.") var verbose = false
    @OptionGroup var compute: ComputeOptions

    /// Rows of comma-separated integers, ';' between rows; `flag` names the option in errors.
    static func rows(_ text: String, flag: String) throws -> [[Int]] {
        try text.split(separator: ";", omittingEmptySubsequences: false).map { row in
            let trimmed = row.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return [] }
            return try integerList(trimmed, flag: flag, minimum: .min)
        }
    }

    /// The parsed inputs: ids, mask and global flags, [batch][n] each.
    func inputs() throws -> (ids: [[Int]], mask: [[Bool]]?, global: [[Bool]]?) {
        let ids = try Self.rows(inputIDs, flag: "--input-ids")
        guard let length = ids.first?.count, length > 0, ids.allSatisfy({ $0.count == length }) else {
            throw ValidationError("--input-ids needs one or more non-empty sequences of the same length, got '\(inputIDs)'")
        }
        var mask: [[Bool]]? = nil
        if let attentionMask {
            let rows = try Self.rows(attentionMask, flag: "--attention-mask")
            guard rows.count == ids.count, rows.allSatisfy({ $0.count == length }) else {
                throw ValidationError("--attention-mask must have the shape of --input-ids (\(ids.count) × \(length))")
            }
            guard rows.joined().allSatisfy({ $0 == 0 || $0 == 1 }) else { throw ValidationError("--attention-mask values must be 0 or 1") }
            mask = rows.map { $0.map { $0 == 1 } }
        }
        var global: [[Bool]]? = nil
        if let globalAttention {
            var rows = try Self.rows(globalAttention, flag: "--global-attention")
            if rows.count == 1 && ids.count > 1 { rows = Array(repeating: rows[0], count: ids.count) }
            guard rows.count == ids.count else {
                throw ValidationError("--global-attention gives positions for \(rows.count) sequences, but --input-ids has \(ids.count)")
            }
            for row in rows {
                if let bad = row.first(where: { $0 < 0 || $0 >= length }) {
                    throw ValidationError("--global-attention position \(bad) is out of range 0..<\(length)")
                }
            }
            global = rows.map { row in (0..<length).map { row.contains($0) } }
        }
        return (ids, mask, global)
    }

    func validate() throws {
        _ = try inputs()
        guard TransfoXLMemoryStart(rawValue: memoryStart) != nil else {
            throw ValidationError("--memory-start must be \(TransfoXLMemoryStart.allCases.map(\.rawValue).joined(separator: " or ")), got '\(memoryStart)'")
        }
        let inputFiles = ["config.json", "model.safetensors"].map { URL(fileURLWithPath: model).appendingPathComponent($0).path } + [rotations, mems].compactMap { $0 }
        func resolved(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        if let input = inputFiles.first(where: { resolved($0) == resolved(output) }) {
            throw ValidationError("--output \(output) is the input file \(input): choose another path")
        }
    }

    func run() throws {
        compute.apply()
        let (ids, mask, global) = try inputs()
        let folder = URL(fileURLWithPath: model)
        let outputs: [String: Tensor]
        switch try PretrainedModelType.of(folder: folder) {
        case .longformer:
            if rotations != nil { throw ValidationError("--rotations applies to Reformer models only; \(model) is a Longformer") }
            try refuseMemories(forA: "Longformer")
            let encoder = try timed("load") { try LongformerEncoder.load(folder: folder) }
            outputs = ["last_hidden_state": try timed("forward") {
                try withoutGradients { try encoder(inputIDs: ids, attentionMask: mask, globalAttention: global) }
            }]
        case .reformer:
            if global != nil { throw ValidationError("--global-attention applies to Longformer models only; \(model) is a Reformer") }
            try refuseMemories(forA: "Reformer")
            outputs = try runReformer(folder: folder, ids: ids, mask: mask)
        case .transfoXL:
            for (flag, given) in [("--global-attention", global != nil), ("--attention-mask", mask != nil), ("--rotations", rotations != nil)] where given {
                throw ValidationError("\(flag) does not apply to Transformer-XL models (\(model))")
            }
            outputs = try runTransfoXL(folder: folder, ids: ids)
        }
        try SafeTensors.write(outputs, metadata: ["model": model, "producer": "glance run"], to: URL(fileURLWithPath: output))
        print("wrote \(output): " + outputs.keys.sorted().map { "\($0) \(outputs[$0]!.shape)" }.joined(separator: ", "))
    }

    /// `body`'s result; with --verbose, prints "`stage`: seconds" to standard error.
    func timed<Result>(_ stage: String, _ body: () throws -> Result) rethrows -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        if verbose { printError(String(format: "%@: %.3f s", stage, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)) }
        return result
    }

    /// --mems and --memory-start are Transformer-XL's.
    func refuseMemories(forA kind: String) throws {
        if mems != nil || memoryStart != TransfoXLMemoryStart.zeros.rawValue {
            throw ValidationError("--mems and --memory-start apply to Transformer-XL models only; \(model) is a \(kind)")
        }
    }

    /// log_probs and the next memories (mems.<i>) of a Transformer-XL folder, after the memories of --mems when given.
    func runTransfoXL(folder: URL, ids: [[Int]]) throws -> [String: Tensor] {
        let transfoXL = try timed("load") { try TransfoXLLanguageModel.load(folder: folder) }
        let unread = try TransfoXLConfiguration.unrecognizedFields(inFolder: folder)
        if !unread.isEmpty { printError("note: config.json fields Glance does not read: \(unread.joined(separator: ", "))") }
        var memories: [Tensor]? = nil
        if let mems {
            let url = URL(fileURLWithPath: mems)
            guard FileManager.default.fileExists(atPath: url.path) else { throw CommandFailure("--mems: \(mems) does not exist") }
            let stored = try SafeTensors.read(from: url).tensors
            let layers = transfoXL.blocks.count
            let expected = Set((0..<layers).map { "mems.\($0)" })
            if let extra = stored.keys.sorted().first(where: { $0.hasPrefix("mems.") && !expected.contains($0) }) {
                throw CommandFailure("--mems \(mems): '\(extra)' is not a memory of this model (expected mems.0 … mems.\(layers - 1))")
            }
            memories = try (0..<layers).map { layer in
                guard let memory = stored["mems.\(layer)"] else { throw CommandFailure("--mems \(mems): 'mems.\(layer)' is missing (one memory per layer)") }
                return memory
            }
        }
        do {
            let result = try timed("forward") {
                try withoutGradients { try transfoXL(inputIDs: ids, memories: memories, start: TransfoXLMemoryStart(rawValue: memoryStart)!) }
            }
            var outputs = ["log_probs": result.logProbabilities]
            for (layer, memory) in result.memories.enumerated() { outputs["mems.\(layer)"] = memory }
            return outputs
        } catch let error as ModelInputError where error.input == "mems" {
            throw CommandFailure("--mems \(mems ?? ""): \(error.reason)")
        }
    }

    /// last_hidden_state and logits of a Reformer folder, with the rotations of --rotations when given.
    func runReformer(folder: URL, ids: [[Int]], mask: [[Bool]]?) throws -> [String: Tensor] {
        let reformer = try timed("load") { try ReformerLanguageModel.load(folder: folder, bucketLength: ids[0].count) }
        if let rotations {
            let url = URL(fileURLWithPath: rotations)
            guard FileManager.default.fileExists(atPath: url.path) else { throw CommandFailure("--rotations: \(rotations) does not exist") }
            do { try reformer.setRotations(try SafeTensors.read(from: url).tensors) } catch let error as ModelInputError {
                throw CommandFailure("--rotations \(rotations): \(error.reason)")
            }
        }
        let result = try timed("forward") { try withoutGradients { try reformer(inputIDs: ids, attentionMask: mask) } }
        return ["last_hidden_state": result.lastHiddenState, "logits": result.logits]
    }
}
