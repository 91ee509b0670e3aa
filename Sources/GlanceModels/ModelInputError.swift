/// Model inputs that cannot be used (a token id outside the vocabulary, a mask of the wrong
/// shape, a sequence longer than the positions, rotations of the wrong shape…); `input` names
/// the input as Hugging Face does (`input_ids`, `attention_mask`, …).
public struct ModelInputError: Error, CustomStringConvertible, Equatable {
    public let input: String
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "\(input): \(reason)" }
}

/// Checks a batch of token ids [batch][n] (one or more rows of one non-zero length, every id in
/// 0..<`vocabularySize`) and the masks that come with it (nil, or `batch` × n); returns
/// (batch, n). Errors name the input.
func checkTokenRows(_ inputIDs: [[Int]], vocabularySize: Int, masks: [(name: String, rows: [[Bool]]?)]) throws -> (batch: Int, length: Int) {
    guard let length = inputIDs.first?.count, length > 0, inputIDs.allSatisfy({ $0.count == length }) else {
        throw ModelInputError(input: "input_ids", reason: "needs one or more rows of the same, non-zero length")
    }
    if let bad = inputIDs.joined().first(where: { $0 < 0 || $0 >= vocabularySize }) {
        throw ModelInputError(input: "input_ids", reason: "token id \(bad) is outside the vocabulary 0..<\(vocabularySize)")
    }
    for (name, rows) in masks {
        if let rows, rows.count != inputIDs.count || rows.contains(where: { $0.count != length }) {
            throw ModelInputError(input: name, reason: "must be \(inputIDs.count) × \(length) like input_ids")
        }
    }
    return (inputIDs.count, length)
}
