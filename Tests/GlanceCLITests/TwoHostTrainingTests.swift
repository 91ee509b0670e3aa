#if MPI
import Foundation
import Testing

/// Two ranks on two "hosts": two network namespaces of this machine joined by a veth pair,
/// with Open MPI over TCP between them (as between two machines; the shared-memory transport
/// is off). `mpirun` runs in the first namespace and starts the second rank through a launcher
/// that enters the second namespace (where a cluster would use ssh). The run equals a
/// 2-rank run on one host, line for line.
@Suite(.serialized) struct TwoHostTrainingTests {
    /// `ip`, when this process may create network namespaces (root with CAP_NET_ADMIN).
    static let ip: URL? = {
        guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let url = URL(fileURLWithPath: ip), probe = "glance-probe-\(getpid())"
        guard (try? command(url, ["netns", "add", probe])) != nil else { return nil }
        _ = try? command(url, ["netns", "del", probe])
        return url
    }()

    /// Runs `executable` and throws its message when it fails.
    @discardableResult
    static func command(_ executable: URL, _ arguments: [String]) throws -> CommandResult {
        let result = try runCapturing(executable, arguments, in: FileManager.default.temporaryDirectory, timeout: 20)
        struct Failed: Error, CustomStringConvertible { let description: String }
        guard result.status == 0 else { throw Failed(description: "\(executable.path) \(arguments.joined(separator: " ")): \(result.output)") }
        return result
    }

    @Test(.enabled(if: ip != nil, "skipped: needs iproute2's ip and the right to create network namespaces (root with CAP_NET_ADMIN)"))
    func twoRanksInTwoNetworkNamespacesTrainTheSameRun() throws {
        let ip = try #require(Self.ip)
        let id = getpid() % 100_000
        let hosts = [(namespace: "glance-a-\(id)", device: "gla\(id)", address: "10.213.7.1"),
                     (namespace: "glance-b-\(id)", device: "glb\(id)", address: "10.213.7.2")]
        defer { for host in hosts { _ = try? Self.command(ip, ["netns", "del", host.namespace]) } }
        for host in hosts { try Self.command(ip, ["netns", "add", host.namespace]) }
        try Self.command(ip, ["link", "add", hosts[0].device, "type", "veth", "peer", "name", hosts[1].device])
        for host in hosts {
            try Self.command(ip, ["link", "set", host.device, "netns", host.namespace])
            try Self.command(ip, ["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", host.device])
            try Self.command(ip, ["-n", host.namespace, "link", "set", host.device, "up"])
            try Self.command(ip, ["-n", host.namespace, "link", "set", "lo", "up"])
        }

        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 6))
        let folder = workspace.folder
        // mpirun's remote launcher: "launcher HOST COMMAND…" runs COMMAND in HOST's namespace.
        let launcher = folder.appendingPathComponent("launcher.sh"), launches = folder.appendingPathComponent("launches.log")
        try Data("""
            #!/bin/sh
            host=$1; shift
            case "$host" in \(hosts.map { "\($0.address)) ns=\($0.namespace) ;;" }.joined(separator: " ")) *) echo "unknown host $host" >&2; exit 1 ;; esac
            echo "$ns" >> \(launches.path)
            exec \(ip.path) netns exec "$ns" sh -c "$*"

            """.utf8).write(to: launcher)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: launcher.path)

        let train = ["train", "--config", workspace.config.path, "--json"]
        let local = try DataParallelTests.mpirun(2, train + ["--output", folder.appendingPathComponent("local").path], in: folder)
        let network = "10.213.7.0/24"
        let remote = try runCapturing(ip, ["netns", "exec", hosts[0].namespace, try DataParallelTests.mpirun().path]
                                          + (try DataParallelTests.mpirunArguments(2, train + ["--output", folder.appendingPathComponent("two-hosts").path], options: [
                                              "--host", hosts.map(\.address).joined(separator: ","), "--mca", "plm_rsh_agent", launcher.path,
                                              "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", network, "--mca", "oob_tcp_if_include", network])),
                                      in: folder, timeout: 120, environment: DataParallelTests.environment)
        for result in [local, remote] { try #require(result.status == 0, "\(result)") }
        let launched = String(decoding: (try? Data(contentsOf: launches)) ?? Data(), as: UTF8.self)
        #expect(launched.split(separator: "\n") == [Substring(hosts[1].namespace)], "the second rank was not started in its namespace: \(launched)")
        let expected = KillAndResumeTests.progressLines(local.standardOutput)
        #expect(expected.count == 6 && KillAndResumeTests.progressLines(remote.standardOutput) == expected, "\(remote)")
    }
}
#endif
