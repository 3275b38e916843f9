import CSystemShims
import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `ip`, `iptables` and `tc` with a bounded wait.
///
/// Spawned like the nodes (own process group, default signal dispositions)
/// and waited for by pid, so the orchestrator's `waitpid(-1)` reaping never
/// sees them: the loop is single-threaded and a command is always collected
/// before the loop reaps again.
public enum SystemCommand {
    struct Outcome {
        /// nil when the command could not be started or was killed at its deadline.
        var status: ExitStatus?
        /// Its standard output and error, together.
        var output: String
        var ok: Bool { status == .exited(0) }
        /// The first line of the output, or what became of the command.
        var reason: String {
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? status.map { "\($0)" } ?? "did not finish" : text
        }
    }

    /// Directories searched for the tools (root's PATH may lack the sbin ones).
    public static let searchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// The full path of `tool`, or nil when it is not installed.
    public static func locate(_ tool: String) -> String? {
        searchPath.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `argv` (argv[0] a tool name or a path) and waits at most `timeout`.
    static func run(_ argv: [String], timeout: Duration = .seconds(5)) -> Outcome {
        guard let tool = argv.first, let path = tool.hasPrefix("/") ? tool : locate(tool) else {
            return Outcome(status: nil, output: "\(argv.first ?? "?"): not found in \(searchPath.joined(separator: ":"))")
        }
        var template = Array("/tmp/clustersim-cmd-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        guard fd >= 0 else { return Outcome(status: nil, output: "cannot create a temporary file: \(String(cString: strerror(errno)))") }
        let outputPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer {
            close(fd)
            unlink(outputPath)
        }
        var pid: pid_t = 0
        let env = ["PATH=" + searchPath.joined(separator: ":"), "LC_ALL=C"]
        let rc = withCStrings([path] + argv.dropFirst()) { cargv in withCStrings(env) { csim_spawn(path, cargv, $0, fd, &pid) } }
        guard rc == 0 else { return Outcome(status: nil, output: "cannot start \(path): \(String(cString: strerror(rc)))") }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        var done = false
        while !done {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { done = true; break }
            if r < 0 && errno != EINTR { break }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(1_000)
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard done else {
            return Outcome(status: nil, output: "\(argv.joined(separator: " ")): no answer within \(timeout); killed. \(output)")
        }
        return Outcome(status: LocalLauncher.decode(status), output: output)
    }
}

/// Why the netns launcher cannot run here, or nil when it can.
public enum NetnsPreflight {
    /// - Parameters:
    ///   - euid: the effective user id (`geteuid()`).
    ///   - locate: finds a tool's path (tests pass their own).
    /// - Returns: the error to show, naming what is missing and what to do.
    public static func problem(euid: uid_t, transport: Transport = .tcp,
                               locate: (String) -> String? = { SystemCommand.locate($0) }) -> String? {
        guard euid == 0 else {
            return "launcher \"netns\" needs root: it creates network namespaces, veth pairs and a bridge, "
                + "and sets iptables and tc rules for the network faults (run the orchestrator as root, or use --launcher local)"
        }
        let missing = ["ip", "iptables", "tc"].filter { locate($0) == nil }
        guard missing.isEmpty else {
            return "launcher \"netns\" needs \(missing.joined(separator: ", ")), not found in \(SystemCommand.searchPath.joined(separator: ":")) "
                + "(install Debian's iproute2 and iptables packages; scripts/setup.sh does)"
        }
        guard transport == .tcp else {
            return "launcher \"netns\" needs writer.transport \"tcp\": ipc sockets are files and never cross the namespaces' interfaces"
        }
        return nil
    }
}

/// The network of a netns run: a bridge in the root namespace, and one
/// network namespace per host (the writer, each reader or relay group), each
/// joined to the bridge by a veth pair and given its own address in
/// 198.18.0.0/15 (RFC 2544 benchmarking; never a real network).
///
/// Names carry the orchestrator's pid, so the leftovers of a run that was
/// killed can be recognised and removed by the next one:
/// bridge `csb<pid>`, namespaces `csn<pid>-<i>`, host-side veths `csv<pid>-<i>`
/// (at most 15 characters for pids up to 7 digits and 999 hosts).
public final class NetnsNetwork {
    /// One namespace: a host of the simulated cluster.
    public struct Host: Sendable {
        /// What it holds: `writer`, or a group name.
        public var label: String
        public var namespace: String
        /// The host-side end of its veth pair (on the bridge).
        public var veth: String
        public var address: String
    }

    public static let bridgePrefix = "csb"
    public static let namespacePrefix = "csn"
    public static let vethPrefix = "csv"
    /// iptables comment on the rule that lets the bridge forward when br_netfilter is loaded.
    static let forwardComment = "clustersim"

    public let owner: Int32
    public let bridge: String
    /// The bridge's address: the orchestrator binds the control plane on it.
    public private(set) var bridgeAddress = ""
    public private(set) var hosts: [Host] = []
    private var prefixLength = 24
    private var bridgeCreated = false
    private var forwardRule: [String]?

    public init(owner: Int32 = getpid()) {
        self.owner = owner
        bridge = Self.bridgePrefix + "\(owner)"
    }

    public func host(_ label: String) -> Host? { hosts.first { $0.label == label } }

    /// The command that runs `program arguments` inside a host's namespace.
    /// `ip netns exec` execs in place (no fork), so the pid, the process
    /// group and the parent-death signal stay the node's.
    public func exec(in host: Host, program: String, arguments: [String]) -> (executable: String, arguments: [String]) {
        (SystemCommand.locate("ip") ?? "/usr/sbin/ip", ["netns", "exec", host.namespace, program] + arguments)
    }

    /// A free /24 of 198.18.0.0/15, picked from the owner pid and skipped
    /// past any already on an interface (another run's).
    static func subnet(owner: Int32, inUse: String) -> String? {
        for k in 0..<512 {
            let i = (Int(owner) + k) % 512
            let net = "198.\(18 + i / 256).\(i % 256)."
            if !inUse.contains(" " + net) { return net }
        }
        return nil
    }

    /// Creates the bridge and one namespace per label.
    /// - Throws: `NetnsError` naming the command that failed; what was made is removed again.
    public func setUp(labels: [String]) throws {
        guard labels.count <= 250 else { throw NetnsError("\(labels.count) hosts: at most 250 namespaces fit a /24") }
        let addrs = SystemCommand.run(["ip", "-o", "-4", "addr", "show"])
        guard let net = Self.subnet(owner: owner, inUse: addrs.output) else {
            throw NetnsError("no free /24 in 198.18.0.0/15")
        }
        bridgeAddress = net + "1"
        do {
            try must(["ip", "link", "add", bridge, "type", "bridge"])
            bridgeCreated = true
            try must(["ip", "addr", "add", "\(bridgeAddress)/\(prefixLength)", "dev", bridge])
            try must(["ip", "link", "set", bridge, "up"])
            for (i, label) in labels.enumerated() {
                let h = Host(label: label, namespace: Self.namespacePrefix + "\(owner)-\(i + 1)",
                             veth: Self.vethPrefix + "\(owner)-\(i + 1)", address: net + "\(i + 2)")
                try must(["ip", "netns", "add", h.namespace])
                hosts.append(h)
                try must(["ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.namespace])
                try must(["ip", "link", "set", h.veth, "master", bridge, "up"])
                try must(["ip", "-n", h.namespace, "addr", "add", "\(h.address)/\(prefixLength)", "dev", "eth0"])
                try must(["ip", "-n", h.namespace, "link", "set", "eth0", "up"])
                try must(["ip", "-n", h.namespace, "link", "set", "lo", "up"])
            }
            // With br_netfilter loaded, bridged frames pass the root namespace's
            // FORWARD chain, whose policy may be DROP (Docker sets it): accept ours.
            if FileManager.default.fileExists(atPath: "/proc/sys/net/bridge/bridge-nf-call-iptables") {
                let rule = Self.forwardRule(bridge: bridge)
                try must(["iptables", "-I"] + rule)
                forwardRule = rule
            }
        } catch {
            tearDown()
            throw error
        }
    }

    /// Removes every namespace (and with it its veth pair, iptables rules and
    /// qdiscs), the bridge and the forward rule. Safe to call twice.
    public func tearDown() {
        for h in hosts.reversed() {
            _ = SystemCommand.run(["ip", "netns", "del", h.namespace])
            // The host side goes with its peer; delete it too should a process have held the namespace.
            _ = SystemCommand.run(["ip", "link", "del", h.veth])
        }
        hosts = []
        if bridgeCreated { _ = SystemCommand.run(["ip", "link", "del", bridge]) }
        bridgeCreated = false
        if let rule = forwardRule { _ = SystemCommand.run(["iptables", "-D"] + rule) }
        forwardRule = nil
    }

    /// The root namespace's FORWARD rule that lets `bridge` forward, tagged with its name.
    static func forwardRule(bridge: String) -> [String] {
        ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", "\(forwardComment) \(bridge)", "-j", "ACCEPT"]
    }

        private func must(_ argv: [String]) throws {
        let r = SystemCommand.run(argv)
        guard r.ok else { throw NetnsError("`\(argv.joined(separator: " "))` failed: \(r.reason)") }
    }

    // MARK: - Leftovers

    /// Removes namespaces, bridges, veths and forward rules of earlier runs whose
    /// orchestrator is no longer alive (killed runs cannot clean up).
    /// - Returns: what was removed, one entry per object.
    public static func removeLeftovers(isAlive: (Int32) -> Bool = NetnsNetwork.orchestratorAlive) -> [String] {
        var removed: [String] = []
        func dead(_ name: String, prefix: String) -> Bool {
            guard name.hasPrefix(prefix) else { return false }
            let rest = name.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let pid = Int32(digits), !digits.isEmpty else { return false }
            let tail = rest.dropFirst(digits.count)
            guard tail.isEmpty || (tail.first == "-" && tail.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) && tail.count > 1) else { return false }
            return !isAlive(pid)
        }
        for line in SystemCommand.run(["ip", "netns", "list"]).output.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            if dead(name, prefix: namespacePrefix), SystemCommand.run(["ip", "netns", "del", name]).ok { removed.append("namespace \(name)") }
        }
        // `ip -o link` lines: "12: csv123-1@if2: <…" — the name ends at '@' or ':'.
        for line in SystemCommand.run(["ip", "-o", "link", "show"]).output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = String(fields[1].prefix { $0 != "@" && $0 != ":" })
            if dead(name, prefix: bridgePrefix) || dead(name, prefix: vethPrefix),
               SystemCommand.run(["ip", "link", "del", name]).ok { removed.append("interface \(name)") }
        }
        for line in SystemCommand.run(["iptables", "-S", "FORWARD"]).output.split(separator: "\n") where line.hasPrefix("-A FORWARD ") {
            guard let r = line.range(of: "--comment \"\(forwardComment) ") ?? line.range(of: "--comment \(forwardComment) ") else { continue }
            let name = String(line[r.upperBound...].prefix { $0 != "\"" && $0 != " " })
            guard dead(name, prefix: bridgePrefix) else { continue }
            if SystemCommand.run(["iptables", "-D"] + forwardRule(bridge: name)).ok { removed.append("iptables rule for \(name)") }
        }
        return removed
    }

    /// Whether `pid` is a live orchestrator (a reused pid of another program is not).
    public static func orchestratorAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "orchestrator"
    }

    // MARK: - Network faults

    /// The commands that apply a network fault to `host` and the ones that heal it.
    /// - Parameters:
    ///   - peers: the hosts it exchanges data with (its upstream; for the writer, every other host).
    ///     The bridge, where the control plane is, is never one: the run stays observable.
    public static func commands(for action: FaultAction, host: Host, peers: [Host], loss: Double?, bandwidth: String?,
                                isWriter: Bool) -> (apply: [[String]], heal: [[String]])? {
        let inNamespace = ["ip", "netns", "exec", host.namespace, "iptables"]
        switch action {
        case .partition:
            let rules = peers.flatMap { p in [["INPUT", "-s", p.address, "-j", "DROP"], ["OUTPUT", "-d", p.address, "-j", "DROP"]] }
            return (rules.map { inNamespace + ["-I"] + $0 }, rules.map { inNamespace + ["-D"] + $0 })
        case .loss:
            let p = String(format: "%.4f", loss ?? 0)
            let rules = peers.map { ["INPUT", "-s", $0.address, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"] }
            return (rules.map { inNamespace + ["-I"] + $0 }, rules.map { inNamespace + ["-D"] + $0 })
        case .bandwidth:
            guard let bandwidth, let bits = FaultSpec.bitsPerSecond(ofRate: bandwidth) else { return nil }
            // tbf's bucket must hold at least a packet and what arrives in a timer tick (~10 ms).
            let burstBytes = max(Int(bits / 8 / 100), 4_096)
            let tbf = ["root", "tbf", "rate", bandwidth, "burst", "\(burstBytes)", "latency", "400ms"]
            // Traffic into a namespace leaves the bridge by its host-side veth; the writer's
            // is what it sends, so its limit sits on its own eth0.
            let dev = isWriter ? ["tc", "-n", host.namespace, "qdisc"] : ["tc", "qdisc"]
            let name = isWriter ? "eth0" : host.veth
            return ([dev + ["add", "dev", name] + tbf], [dev + ["del", "dev", name, "root"]])
        default:
            return nil
        }
    }
}

/// A netns set-up failure, naming the command and what it said.
public struct NetnsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
