// libFuzzer entry for SafeTensors.read: each input is written to a file and read back; a
// SafeTensorsError is a clean refusal, a trap or a sanitizer report is a finding. Compiled into
// the GlanceCore module by tools/fuzz/build.sh.
import Foundation

/// The file each input is written to (in /dev/shm when it exists: no disk traffic).
private let inputPath: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(folder)/glance-fuzz-\(getpid()).safetensors"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let descriptor = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard descriptor >= 0 else { fatalError("cannot create \(inputPath)") }
    guard write(descriptor, data, size) == size else { fatalError("cannot write \(inputPath)") }
    close(descriptor)
    do {
        let (tensors, _) = try SafeTensors.read(from: URL(fileURLWithPath: inputPath))
        for (name, tensor) in tensors where tensor.shape.reduce(1, *) > tensor.storage.count {
            fatalError("\(name): shape \(tensor.shape) but storage for \(tensor.storage.count) values")
        }
    } catch is SafeTensorsError {
    } catch {
        fatalError("SafeTensors.read threw \(type(of: error)): \(error)")
    }
    return 0
}
