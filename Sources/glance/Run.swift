import ArgumentParser
import Foundation
import GlanceCore
import GlanceModels

/// `glance run`: runs a Hugging Face Longformer checkpoint on token ids.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Hugging Face LongformerModel folder on token ids and write last_hidden_state.",
        discussion: """
        --model is a folder with config.json (model_type "longformer") and model.safetensors, \
        as save_pretrained writes it (e.g. allenai/longformer-base-4096). Token ids come from the \
        model's own tokenizer (RoBERTa's BPE for longformer-base-4096: <s> = 0, </s> = 2, \
        <pad> = 1). Several sequences of one length are separated by ';'. The output safetensors \
        file holds last_hidden_state [batch, n, hidden_size] (F32).
        """
    )

    @Option(help: "The model folder (config.json + model.safetensors).") var model: String
    @Option(name: .customLong("input-ids"), help: "Token ids, comma-separated; ';' between sequences.") var inputIDs: String
    @Option(name: .customLong("attention-mask"), help: "1 for a token, 0 for padding, like --input-ids (default: all 1).")
    var attentionMask: String?
    @Option(name: .customLong("global-attention"), help: "Positions (0-based) of global tokens, comma-separated; ';' between sequences.")
    var globalAttention: String?
    @Option(help: "The safetensors file to write.") var output: String
    @OptionGroup var compute: ComputeOptions

    /// Rows of comma-separated integers, ';' between rows; `flag` names the option in errors.
    static func rows(_ text: String, flag: String) throws -> [[Int]] {
        try text.split(separator: ";", omittingEmptySubsequences: false).map { row in
            let trimmed = row.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return [] }
            return try trimmed.split(separator: ",").map { item in
                guard let value = Int(item.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("\(flag) must be integers separated by commas (';' between sequences), got '\(item)'")
                }
                return value
            }
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

    func validate() throws { _ = try inputs() }

    func run() throws {
        compute.apply()
        let (ids, mask, global) = try inputs()
        let encoder = try LongformerEncoder.load(folder: URL(fileURLWithPath: model))
        let hidden = try withoutGradients { try encoder(inputIDs: ids, attentionMask: mask, globalAttention: global) }
        try SafeTensors.write(["last_hidden_state": hidden], metadata: ["model": model, "producer": "glance run"],
                              to: URL(fileURLWithPath: output))
        print("wrote \(output): last_hidden_state \(hidden.shape)")
    }
}
