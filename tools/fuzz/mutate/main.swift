// The campaign's mutator: `mutate SEED INPUT OUTPUT [TIMES]` writes INPUT after 1 to TIMES
// (default 3) seeded mutations of the fuzz tests' Mutator to OUTPUT. campaign.sh builds it
// with Tests/GlanceTestSupport/Mutation.swift.
import Foundation

/// SplitMix64: a seeded generator for the mutations.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var x = state
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 4 || arguments.count == 5, let seed = UInt64(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: mutate SEED INPUT OUTPUT [TIMES]\n".utf8))
    exit(2)
}
let input: Data
do { input = try Data(contentsOf: URL(fileURLWithPath: arguments[2])) } catch {
    FileHandle.standardError.write(Data("mutate: cannot read \(arguments[2]): \(error)\n".utf8))
    exit(1)
}
var random = SplitMix64(state: seed)
let mutated = Mutator().mutate([UInt8](input), times: arguments.count == 5 ? Int(arguments[4]) ?? 3 : 3, &random)
guard FileManager.default.createFile(atPath: arguments[3], contents: Data(mutated)) else {
    FileHandle.standardError.write(Data("mutate: cannot write \(arguments[3])\n".utf8))
    exit(1)
}
