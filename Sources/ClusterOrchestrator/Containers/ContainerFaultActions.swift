import ClusterCore
import Foundation

/// What a fault agent does to a container for each ``Clustersim_V1_FaultRequest``:
/// engine commands for the process faults, iptables and tc inside the
/// container's network namespace (`nsenter -t PID -n`) for the network
/// faults, with the commands that undo them kept until their heal.
struct ContainerFaultActions {
    let docker: DockerCLI
    /// Undo commands of the network faults applied, by request id.
    private var undo: [UInt64: [[String]]] = [:]

    init(docker: DockerCLI) {
        self.docker = docker
    }

    /// Applies one request.
    mutating func apply(_ r: Clustersim_V1_FaultRequest) -> Clustersim_V1_FaultReply {
        var reply = Clustersim_V1_FaultReply()
        reply.id = r.id
        if r.action == "heal" {
            guard let commands = undo.removeValue(forKey: r.heals) else { return refused(reply, "nothing to heal for request \(r.heals)") }
            let failures = commands.compactMap { SystemCommand.run($0).failure?.message }
            reply.applied = failures.isEmpty
            reply.detail = failures.joined(separator: "; ")
            return reply
        }
        if let why = Self.invalid(r) { return refused(reply, why) }
        guard let container = docker.state(r.container) else {
            return refused(reply, "no container \(r.container) on this host's engine")
        }
        let short = String(container.id.prefix(12))
        switch FaultAction(rawValue: r.action) {
        case .kill?, .terminate?:
            guard container.status == "running" || container.status == "paused" else {
                return refused(reply, "container \(short) is \(container.status)")
            }
            if container.status == "paused" { _ = docker.run(["unpause", container.id]) }
            let kill = r.action == FaultAction.kill.rawValue
            let out = docker.run(["kill"] + (kill ? [] : ["--signal", "TERM"]) + [container.id])
            guard out.ok else { return refused(reply, out.output) }
            reply.applied = true
            reply.detail = "container \(short)"
            guard kill else { return reply }
            // SIGKILL to its init: the container ends at once; say so, with its exit code.
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                if let s = docker.state(container.id), s.status != "running" {
                    reply.ended = true
                    reply.exitCode = s.exitCode
                    break
                }
                usleep(50_000)
            }
        case .pause?, .resume?:
            let out = docker.run([r.action == FaultAction.pause.rawValue ? "pause" : "unpause", container.id])
            guard out.ok else { return refused(reply, out.output) }
            reply.applied = true
            reply.detail = "container \(short)"
        case .restart?:
            let running = container.status == "running" || container.status == "paused"
            if container.status == "paused" { _ = docker.run(["unpause", container.id]) }
            // `docker restart` sends SIGTERM (the node drains and says BYE), waits, and starts it again.
            let out = docker.run(running ? ["restart", "--time", "10", container.id] : ["start", container.id], timeout: .seconds(25))
            guard out.ok else { return refused(reply, out.output) }
            reply.applied = true
            reply.detail = "container \(short) \(running ? "restarted" : "started again")"
        case .partition?, .loss?, .bandwidth?:
            guard container.status == "running" || container.status == "paused", container.pid > 0 else {
                return refused(reply, "container \(short) is \(container.status)")
            }
            return network(r, container: container, reply: reply)
        default:
            return refused(reply, "the fault agent does not apply \(r.action)")
        }
        return reply
    }

    /// Why a request cannot be applied as it stands, before any container is
    /// touched: a loss outside (0, 1] (NaN included) or a rate that is not one.
    /// The orchestrator sends only the topology's validated values; this
    /// guards the commands the agent runs against any other sender's.
    static func invalid(_ r: Clustersim_V1_FaultRequest) -> String? {
        switch FaultAction(rawValue: r.action) {
        case .loss?:
            guard r.loss > 0, r.loss <= 1 else { return "loss \(r.loss) is not a fraction more than 0 and at most 1" }
        case .bandwidth?:
            guard FaultSpec.bitsPerSecond(ofRate: r.bandwidth) != nil else { return "bad rate \(r.bandwidth)" }
        default:
            break
        }
        return nil
    }

    /// Partition, loss or bandwidth in the container's network namespace.
    private mutating func network(_ r: Clustersim_V1_FaultRequest, container: DockerCLI.ContainerState,
                                  reply: Clustersim_V1_FaultReply) -> Clustersim_V1_FaultReply {
        var reply = reply
        let inside = ["nsenter", "-t", "\(container.pid)", "-n"]
        let short = String(container.id.prefix(12))
        var apply: [[String]] = [], heal: [[String]] = []
        switch FaultAction(rawValue: r.action) {
        case .partition?, .loss?:
            let peers = r.peers.flatMap { docker.addresses($0) }
            guard !peers.isEmpty else { return refused(reply, "no address found for its peers \(r.peers.joined(separator: ", "))") }
            let p = String(format: "%.4f", r.loss)
            for address in peers {
                let rules: [[String]] = r.action == FaultAction.partition.rawValue
                    ? [["INPUT", "-s", address, "-j", "DROP"], ["OUTPUT", "-d", address, "-j", "DROP"]]
                    : [["INPUT", "-s", address, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"]]
                for rule in rules {
                    apply.append(inside + ["iptables", "-I"] + rule)
                    heal.append(inside + ["iptables", "-D"] + rule)
                }
            }
            reply.detail = "container \(short), iptables against \(peers.joined(separator: ", "))"
        case .bandwidth?:
            guard let bits = FaultSpec.bitsPerSecond(ofRate: r.bandwidth) else { return refused(reply, "bad rate \(r.bandwidth)") }
            guard let link = dataLink(container) else { return refused(reply, "container \(short): its network interface was not found") }
            // As under the netns launcher: tbf on the side that carries what the node receives (the
            // veth's other end, outside the container), or on its own interface for the writer, whose traffic is what it sends.
            let burst = max(Int(bits / 8 / 100), 4_096)
            let tbf = ["root", "tbf", "rate", r.bandwidth, "burst", "\(burst)", "latency", "400ms"]
            let (prefix, dev): ([String], String) = r.limitSent || link.peer == nil ? (inside, link.name) : link.peer!
            apply.append(prefix + ["tc", "qdisc", "add", "dev", dev] + tbf)
            heal.append(prefix + ["tc", "qdisc", "del", "dev", dev, "root"])
            reply.detail = "container \(short), tbf on \(dev)"
        default:
            return refused(reply, "not a network fault: \(r.action)")
        }
        var done: [[String]] = []
        for (a, h) in zip(apply, heal) {
            if let failure = SystemCommand.run(a).failure {
                for c in done.reversed() { _ = SystemCommand.run(c) }
                return refused(reply, "`\(a.joined(separator: " "))`: \(failure)")
            }
            done.append(h)
        }
        undo[r.id] = done.reversed()
        reply.applied = true
        return reply
    }

    /// The container's interface on its stack network, and the other end of
    /// its veth pair when that is found (in the root namespace for a bridge
    /// network, in an overlay network's namespace under swarm): the prefix
    /// that runs a command there, and the interface's name.
    private func dataLink(_ c: DockerCLI.ContainerState) -> (name: String, peer: (prefix: [String], dev: String)?)? {
        let inside = ["nsenter", "-t", "\(c.pid)", "-n"]
        let addresses = Set(docker.addresses(c.id))
        // "12: eth0    inet 198.19.1.3/24 …": the interface holding the stack network's address.
        let lines = SystemCommand.run(inside + ["ip", "-o", "-4", "addr", "show"]).output.split(separator: "\n")
        guard let line = lines.first(where: { l in addresses.contains { l.contains(" \($0)/") } }) else { return nil }
        let fields = line.split(separator: " ")
        guard fields.count > 1 else { return nil }
        let name = String(fields[1])
        // Its index and the peer's index, then the peer among the namespaces' veths ("7: veth12ab@if6: …").
        let read = { (file: String) in
            Int(SystemCommand.run(inside + ["cat", "/sys/class/net/\(name)/\(file)"]).output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let index = read("ifindex"), let peerIndex = read("iflink"), peerIndex != index else { return (name, nil) }
        var namespaces: [[String]] = [[]]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/var/run/docker/netns") {
            namespaces += entries.sorted().map { ["nsenter", "--net=/var/run/docker/netns/\($0)"] }
        }
        for prefix in namespaces {
            for l in SystemCommand.run(prefix + ["ip", "-o", "link", "show"]).output.split(separator: "\n") {
                let f = l.split(separator: ":", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
                guard f.count > 1, Int(f[0]) == peerIndex, f[1].hasSuffix("@if\(index)") else { continue }
                return (name, (prefix, String(f[1].dropLast("@if\(index)".count))))
            }
        }
        return (name, nil)
    }

    private func refused(_ reply: Clustersim_V1_FaultReply, _ why: String) -> Clustersim_V1_FaultReply {
        var reply = reply
        reply.applied = false
        reply.detail = why.trimmingCharacters(in: .whitespacesAndNewlines)
        return reply
    }
}
