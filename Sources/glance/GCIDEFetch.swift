import Foundation
import GlanceData

/// gcide: Debian's dict-gcide dictionary text, split 90/5/5 for the character language model.
enum GCIDEFetcher: CorpusFetcher {
    static let name = "gcide"
    static let summary = "GCIDE dictionary text (default)"
    static let details = "Debian's dict-gcide, split 90/5/5 into train.txt, valid.txt and test.txt; needs apt-get, dpkg-deb and gzip "
        + "(Debian or Ubuntu). enwik8 is not reachable from these machines."
    static let files = ByteCorpus.Split.allCases.map { "\($0.rawValue).txt" }

    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws {
        let hint = "is this a Debian-based system with apt-get?"
        try command.shell("apt-get download dict-gcide", in: work, hint: hint)
        try command.shell("dpkg-deb -x dict-gcide_*.deb extracted", in: work, hint: hint)
        try command.shell("gzip -dc extracted/usr/share/dictd/gcide.dict.dz > gcide.txt", in: work, hint: hint)
        let text = [UInt8](try Data(contentsOf: work.appendingPathComponent("gcide.txt")))
        guard text.count > 1_000_000 else { throw CommandFailure("the extracted GCIDE text has only \(text.count) bytes") }
        try ByteCorpus.write(splitting: text, into: folder)
        print("wrote \(output)/{train,valid,test}.txt from \(text.count) bytes of GCIDE")
    }
}
