import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Seeded mutation fuzzing of Hugging Face model folders: config.json of each model type
/// (Parakeet CTC with its processor and tokenizer files, Transfo-XL, Reformer, Longformer)
/// mutated beside the fixture's weights. Every folder either loads or throws an error that
/// names the file (weights that do not fit the mutated config: CheckpointError); a trap fails the run.
@Suite struct PretrainedFolderFuzzTests {
    static func isFolderError(_ error: any Error) -> Bool {
        error is PretrainedCheckpointError || error is ParakeetFolderError || error is LogMelConfigurationError
            || error is PieceTokenizerError || error is SafeTensorsError || error is CheckpointError
    }

    /// A copy of the fixture folders `sources` in a new temporary folder.
    static func copy(_ sources: [String]) throws -> URL {
        let folder = try makeTemporaryFolder("glance-pretrained-fuzz")
        for source in sources.map({ ReferenceFixtures.folder.appendingPathComponent($0) }) {
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
        }
        return folder
    }

    /// Mutates one of `files` in a copy of `sources` `cases` times and loads it with `load`.
    static func fuzz(_ sources: [String], files: [String], cases: Int, seed: UInt64, load: (URL) throws -> Void) throws -> FuzzTally {
        let folder = try copy(sources)
        defer { remove(folder) }
        let originals = try files.map { try Data(contentsOf: folder.appendingPathComponent($0)) }
        try load(folder)
        var tally = FuzzTally()
        for index in 0..<cases {
            var random = RandomGenerator(seed: seed &+ UInt64(index))
            let file = random.nextInt(below: files.count)
            let mutated = Mutator().mutate([UInt8](originals[file]), &random)
            try Data(mutated).write(to: folder.appendingPathComponent(files[file]))
            tally.record("\(files[file]): \(String(decoding: mutated, as: UTF8.self))", isExpected: isFolderError) { try load(folder) }
            try originals[file].write(to: folder.appendingPathComponent(files[file]))
        }
        return tally
    }

    @Test("a config.json whose sizes cannot fit in memory is refused before allocating, naming the field")
    func oversizedConfigurations() throws {
        let cases: [(fixture: String, field: String, load: (URL) throws -> Void)] = [
            ("transfo_xl_model", "d_embed", { _ = try TransfoXLLanguageModel.load(folder: $0) }),
            ("reformer_model", "vocab_size", { _ = try ReformerLanguageModel.load(folder: $0) }),
            ("longformer_model", "hidden_size", { _ = try LongformerEncoder.load(folder: $0) })]
        for (fixture, field, load) in cases {
            let folder = try Self.copy([fixture])
            defer { remove(folder) }
            let url = folder.appendingPathComponent("config.json")
            var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            object[field] = 1 << 40
            try JSONSerialization.data(withJSONObject: object).write(to: url)
            #expect(performing: { try load(folder) }, throws: { error in
                guard case let .invalid(_, failing, reason) = error as? PretrainedCheckpointError else { return false }
                return failing == field && reason.contains("too large")
            })
        }
    }

    @Test(.timeLimit(.minutes(2))) func mutatedParakeetFoldersLoadOrThrow() throws {
        let tally = try Self.fuzz(["parakeet_ctc", "parakeet_ctc_processor"], files: ["config.json", "processor_config.json", "tokenizer.json",
                                                                                      "tokenizer_config.json"], cases: 600, seed: 51_000) {
            _ = try ParakeetTranscriber(folder: $0)
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 30 && tally.refused > 200, "\(tally)")
    }

    @Test(.timeLimit(.minutes(2))) func mutatedTransformerConfigurationsLoadOrThrow() throws {
        let loaders: [(String, UInt64, (URL) throws -> Void)] = [("transfo_xl_model", 52_000, { _ = try TransfoXLLanguageModel.load(folder: $0) }),
                                                                 ("reformer_model", 53_000, { _ = try ReformerLanguageModel.load(folder: $0) }),
                                                                 ("longformer_model", 54_000, { _ = try LongformerEncoder.load(folder: $0) })]
        for (fixture, seed, load) in loaders {
            let tally = try Self.fuzz([fixture], files: ["config.json"], cases: 500, seed: seed, load: load)
            #expect(tally.failures.isEmpty, "\(fixture): \(tally)")
            #expect(tally.count("accepted") > 20 && tally.refused > 200, "\(fixture): \(tally)")
        }
    }
}
