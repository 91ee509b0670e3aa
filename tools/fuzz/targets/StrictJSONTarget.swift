// libFuzzer entry for StrictJSONParser, the parser under every configuration and safetensors
// header: each input parses or throws a StrictJSONError naming a line and column inside the
// input; a trap or a sanitizer report is a finding. Compiled into the GlanceCore module by
// tools/fuzz/build.sh.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStrictJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        _ = try StrictJSONParser.parse(bytes)
    } catch let error as StrictJSONError {
        let lines = bytes.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        guard (1...lines).contains(error.line), error.column >= 1 else { fatalError("error outside the input: \(error)") }
    } catch {
        fatalError("StrictJSONParser threw \(type(of: error)): \(error)")
    }
    return 0
}
