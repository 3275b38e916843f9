import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// The namespace a node runs in: the writer's, or its group's (a query
    /// group's load generator shares its group's).
    static func hostLabel(_ spec: NodeSpec) -> String { spec.group }

    /// One namespace for the writer and one for each reader or relay group, in topology order.
    static func hostLabels(_ topology: Topology) -> [String] {
        var seen = Set<String>()
        return topology.nodes.map(hostLabel).filter { seen.insert($0).inserted }
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
    public func setUp(labels: [String]) throws(NetnsError) {
        guard labels.count <= 250 else { throw NetnsError(.tooManyHosts, "\(labels.count) hosts: at most 250 namespaces fit a /24") }
        let addrs = SystemCommand.run(["ip", "-o", "-4", "addr", "show"])
        guard let net = Self.subnet(owner: owner, inUse: addrs.output) else {
            throw NetnsError(.noFreeSubnet, "no free /24 in 198.18.0.0/15")
        }
        bridgeAddress = net + "1"
        do throws(NetnsError) {
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

    /// Runs a set-up command.
    /// - Throws: `NetnsError` with code `.command`, naming the command and what it said.
    private func must(_ argv: [String]) throws(NetnsError) {
        let r = SystemCommand.run(argv)
        if let failure = r.failure {
            throw NetnsError(.command, "`\(argv.joined(separator: " "))` failed: \(failure)", command: failure)
        }
    }
}
