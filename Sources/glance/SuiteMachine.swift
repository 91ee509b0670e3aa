import Foundation
import GlanceCore
import GlanceReport

/// The description of this machine that heads a results file.
enum SuiteMachine {
    /// The CPU's model name (`model name` of /proc/cpuinfo; "unknown" elsewhere).
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    /// OpenBLAS's build configuration (`openblas_get_config`), looked up at run time so that
    /// other BLAS libraries give "unavailable".
    static var blasConfiguration: String {
        typealias GetConfig = @convention(c) () -> UnsafePointer<CChar>?
        guard let library = dlopen(nil, RTLD_NOW), let symbol = dlsym(library, "openblas_get_config") else { return "unavailable" }
        return unsafeBitCast(symbol, to: GetConfig.self)().map { String(cString: $0) } ?? "unavailable"
    }

    /// The current commit of the repository in the working folder, with "-dirty" when files
    /// differ from it; nil outside a repository.
    static var gitCommit: String? {
        func git(_ arguments: [String]) -> String? {
            let outcome = SuiteChildProcess(executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["git"] + arguments, timeout: 20).run()
            return outcome.failure == nil ? outcome.output : nil
        }
        guard let commit = git(["rev-parse", "HEAD"])?.trimmingCharacters(in: .whitespacesAndNewlines), !commit.isEmpty else { return nil }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
        return commit + (dirty ? "-dirty" : "")
    }

    static func describe(gemmGflops: Double, gemmSize: Int) -> MachineDescription {
        MachineDescription(cpu: cpuModel, cores: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory),
                           blasKernels: BLAS.kernels, blasConfiguration: blasConfiguration, gemmGflops: gemmGflops, gemmSize: gemmSize,
                           threads: Threading.count, gitCommit: gitCommit, glanceVersion: glanceVersion)
    }
}
