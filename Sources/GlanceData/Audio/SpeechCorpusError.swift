import Foundation

/// A speech corpus on disk that cannot be used; each case names the file (and the line).
public enum SpeechCorpusError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadable(path: String, reason: String)
    case invalidVocabulary(path: String, reason: String)
    case malformedLine(path: String, line: Int, reason: String)
    case missingAudio(path: String, line: Int, audio: String)
    case emptyTranscript(path: String, line: Int)
    case foreignCharacter(path: String, line: Int, character: Character)
    case emptySplit(path: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            "speech corpus file \(path) does not exist (run `glance data fetch --corpus speech` to build the synthetic corpus)"
        case let .unreadable(path, reason): "cannot read speech corpus file \(path): \(reason)"
        case let .invalidVocabulary(path, reason): "vocabulary \(path): \(reason)"
        case let .malformedLine(path, line, reason): "\(path), line \(line): \(reason)"
        case let .missingAudio(path, line, audio): "\(path), line \(line): the audio file \(audio) does not exist"
        case let .emptyTranscript(path, line): "\(path), line \(line): the transcript is empty"
        case let .foreignCharacter(path, line, character):
            "\(path), line \(line): the transcript holds \"\(character)\" (U+\(String(character.unicodeScalars.first!.value, radix: 16, uppercase: true))), "
                + "which is not in the corpus's vocabulary"
        case let .emptySplit(path): "speech corpus file \(path) holds no utterances"
        }
    }
}
