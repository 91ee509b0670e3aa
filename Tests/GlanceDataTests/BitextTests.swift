import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct BitextTests {
    static func write(_ text: String, _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test("reads parallel lines; a final newline and CRLF are fine") func reads() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let en = try Self.write("In the beginning.\r\nAnd God said.\n", "train.en", in: folder)
        let es = try Self.write("En el principio.\nY dijo Dios.", "train.es", in: folder)
        let bitext = try Bitext(source: en, target: es)
        #expect(bitext.source == ["In the beginning.", "And God said."] && bitext.target == ["En el principio.", "Y dijo Dios."])
        #expect(try Bitext(folder: folder, split: .train, source: "en", target: "es") == bitext)
    }

    @Test("different line counts, an empty line, bad UTF-8 or a missing file name the file and the line")
    func errors() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let en = try Self.write("one\ntwo\nthree\n", "a.en", in: folder)
        let es = try Self.write("uno\ndos\n", "a.es", in: folder)
        #expect { try Bitext(source: en, target: es) } throws: { "\($0)".contains(es.path) && "\($0)".contains("has 2 lines but") }
        let empty = try Self.write("uno\n   \ntres\n", "b.es", in: folder)
        #expect { try Bitext(source: en, target: empty) } throws: { "\($0)" == "\(empty.path), line 2, is empty: every line of a bitext needs a sentence" }
        let invalid = folder.appendingPathComponent("c.es")
        try Data([0x75, 0x6E, 0x6F, 0x0A, 0xFF, 0xFE, 0x0A, 0x74, 0x0A]).write(to: invalid)
        #expect { try Bitext(source: en, target: invalid) } throws: { "\($0)".contains("line 2, is not valid UTF-8") }
        #expect { try Bitext(source: en, target: folder.appendingPathComponent("missing.es")) } throws: { "\($0)".contains("missing.es cannot be read") }
    }

    @Test("the Bible dumps: verses joined on their reference, Strong's numbers and headings dropped, split by book")
    func bible() {
        let english = """
            Genesis 1:1: In the beginning God created the heaven and the earth.
            To the chief Musician, A Psalm of David.
               Ruth 1:1: Now it came to pass in the days when the judges ruled.  
            Mark 1:1: The beginning of the gospel of Jesus Christ, the Son of God;
            I John 1:1: That which was from the beginning,
            Genesis 1:2: And the earth was without form.
            (engKJV2006eb)
            """
        let spanish = """
            Genesis 1:1: EN el principio crió Dios los cielos y la tierra.
            Ruth 1:1: Y ACONTECIÓ en los días que gobernaban los jueces.
            Mark 1:1: PRINCIPIO del evangelio de Jesucristo <G5547>, Hijo de Dios.
            I John 1:1: LO que era desde el principio,
            Genesis 1:2: 
            (spaRV1909eb)
            """
        let splits = BibleBitext.splits(english: english, spanish: spanish)
        #expect(splits[.train]!.source == ["In the beginning God created the heaven and the earth."])
        #expect(splits[.valid]!.target == ["Y ACONTECIÓ en los días que gobernaban los jueces."])
        #expect(splits[.test]!.target == ["PRINCIPIO del evangelio de Jesucristo, Hijo de Dios.", "LO que era desde el principio,"])
        #expect(splits[.test]!.source.count == 2)
    }
}
