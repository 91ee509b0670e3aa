import Foundation
import GlanceData

/// bible-en-es: the English–Spanish Bible, verse-aligned, for translation.
enum BibleFetcher: CorpusFetcher {
    static let name = "bible-en-es"
    static let summary = "the English–Spanish Bible (translation)"
    static let details = "the KJV and Reina-Valera 1909 from Debian's SWORD modules, verse-aligned, split by book into "
        + "{train,valid,test}.{en,es} (needs apt-get, dpkg-deb and diatheke, installed when missing as root)."
    static let files = Bitext.Split.allCases.flatMap { ["\($0.rawValue).en", "\($0.rawValue).es"] }

    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws {
        try command.fetchBible(into: folder, output: output, work: work)
    }
}

extension DataCommand.Fetch {
    /// The SWORD modules of the two Bibles (Debian packages) and their module names.
    static let bibleModules = [(package: "sword-text-kjv", module: "engKJV2006eb"), (package: "sword-text-sparv", module: "spaRV1909eb")]

    /// bible-en-es: the KJV and Reina-Valera 1909 verse-aligned (``GlanceData/BibleBitext``),
    /// split by book into {train,valid,test}.{en,es}. The modules' .deb files are downloaded
    /// and unpacked (no installation); `diatheke` prints them, and is installed with apt-get
    /// when missing (as root; otherwise the error says what to run).
    func fetchBible(into folder: URL, output: String, work: URL) throws {
        try requireDiatheke(in: work)
        let packages = Self.bibleModules.map(\.package).joined(separator: " ")
        let hint = "is this a Debian-based system with apt-get?"
        try shell("apt-get download \(packages)", in: work, hint: hint)
        try shell("for f in *.deb; do dpkg-deb -x \"$f\" extracted; done", in: work, hint: hint)
        var dumps: [String] = []
        for (_, module) in Self.bibleModules {
            let file = "\(module).txt"
            try shell("SWORD_PATH=\"$PWD/extracted/usr/share/sword\" HOME=\"$PWD\" diatheke -b \(module) -f plain -k 'Gen 1:1-Rev 22:21' > \(file)",
                      in: work, hint: "diatheke could not print \(module)")
            dumps.append(try String(contentsOf: work.appendingPathComponent(file), encoding: .utf8))
        }
        let splits = BibleBitext.splits(english: dumps[0], spanish: dumps[1])
        let total = splits.values.reduce(0) { $0 + $1.count }
        guard total > 30_000 else { throw CommandFailure("diatheke gave only \(total) verse pairs (expected about 31,000)") }
        for (split, bitext) in splits { try bitext.write(folder: folder, split: split, source: "en", target: "es") }
        print("wrote \(output)/{train,valid,test}.{en,es}: \(splits[.train]!.count)/\(splits[.valid]!.count)/\(splits[.test]!.count) "
              + "train/valid/test verse pairs (KJV → Reina-Valera 1909; valid: \(BibleBitext.validationBooks.sorted().joined(separator: ", ")); "
              + "test: \(BibleBitext.testBooks.sorted().joined(separator: ", ")))")
    }

    /// Installs diatheke with apt-get when it is missing and this is root; otherwise a clear error.
    func requireDiatheke(in work: URL) throws {
        if (try? shell("command -v diatheke > /dev/null", in: work, hint: "")) != nil { return }
        guard getuid() == 0 else {
            throw CommandFailure("bible-en-es needs diatheke (Debian package diatheke): run `sudo apt-get install -y diatheke`, then fetch again")
        }
        print("installing diatheke (the SWORD command-line reader) with apt-get…")
        try shell("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends diatheke > /dev/null", in: work,
                  hint: "apt-get could not install diatheke")
    }
}
