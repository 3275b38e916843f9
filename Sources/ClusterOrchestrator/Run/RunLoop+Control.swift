import ClusterCore

/// What the nodes say on the control plane, taken into the node table; what
/// no node of the run may say is refused and recorded (``ControlAdmission``).
extension RunLoop {
    /// Takes the messages waiting, at most 2 000 per turn so the loop's other work is never starved.
    func receiveControlMessages() {
        for _ in 0..<2_000 {
            guard let event = control.receive() else { break }
            handle(event)
        }
    }

    /// Takes one event: a HELLO registers a node if the rules allow it, a
    /// claim is answered, the rest goes to the node whose peer sent it.
    func handle(_ event: ControlEvent) {
        switch event {
        case .refused(let reason, let detail):
            refuse(reason, detail)
        case .claim(let hello, let identity):
            answerClaim(hello, identity: identity)
        case .hello(let hello, let identity, let connection):
            register(hello, identity: identity, connection: connection)
        case .agentHello(let hello, let identity):
            control.registerAgent(identity)
            agent = FaultAgentLink(engine: hello.engine, host: hello.host, pid: hello.pid)
            events.log("agent", detail: ["engine": hello.engine, "host": String(hello.host.prefix(100)), "pid": "\(hello.pid)"])
            progress.note("fault agent connected: \(hello.engine) on \(hello.host); faults apply to the containers")
        case .faultReply(let reply):
            events.log("late-fault-reply", detail: ["id": "\(reply.id)", "detail": String(reply.detail.prefix(300))])
        case .node(let name, let message):
            guard let node = cluster.nodes[name], let registration = control.registration(of: name) else { return }
            let tearingDown = machine.isTearingDown
            switch ControlAdmission.message(message, from: node, registration: registration, tearingDown: tearingDown) {
            case .accept: handle(message, from: name)
            case .refuse(let reason, let detail): refuse(reason, detail, node: name)
            }
        }
    }

    /// A HELLO over the connection with descriptor `connection`: registered when
    /// ``ControlAdmission/hello(_:holderConnected:heldByProcess:)`` allows it.
    func register(_ hello: Clustersim_V1_Hello, identity: [UInt8], connection: Int32?) {
        let name = hello.node
        let facts = ControlAdmission.HelloFacts(
            name: name, pid: hello.pid, node: cluster.nodes[name], holder: control.registration(of: name),
            senderHolds: control.name(of: identity), ownsProcesses: !cluster.external)
        let verdict = ControlAdmission.hello(
            facts, holderConnected: { control.isConnected(name) },
            heldByProcess: { pid in connection.map { ConnectionOwner.isHeld(by: pid, otherEndOf: $0) } ?? false })
        switch verdict {
        case .register(let replacing):
            control.register(identity, as: name, pid: hello.pid)
            let external = cluster.external
            cluster.nodes.modify(name) {
                $0.registered(pid: hello.pid, external: external, replacing: replacing, now: SystemClock.monotonicNanos())
                $0.host = hello.host
            }
            events.log("hello", node: name, detail: ["pid": "\(hello.pid)"].merging(replacing ? ["replaces": "an ended incarnation's peer"] : [:]) { $1 })
        case .repeated:
            break
        case .refuse(let reason, let detail):
            refuse(reason, detail, node: cluster.nodes[name] != nil ? name : nil)
        }
    }

    /// Counts a refused message; the first ones of each reason are logged one by one.
    func refuse(_ reason: ControlRefusal, _ detail: String, node: String? = nil) {
        switch refusals.count(reason) {
        case .log:
            events.log("control-refused", node: node, detail: ["reason": reason.rawValue, "detail": String(detail.prefix(300))])
        case .logAndSilence:
            events.log("control-refused", node: node, detail: [
                "reason": reason.rawValue, "detail": String(detail.prefix(300)),
                "note": "the first \(ControlRefusals.loggedPerReason) refusals of this reason are logged; the rest are counted (report.json, controlPlane)"])
        case .countOnly:
            break
        }
    }

    /// Takes what a registered node said into its entry of the node table.
    func handle(_ message: NodeMessage, from name: String) {
        switch message {
        case .ready:
            cluster.nodes.modify(name) { $0.becameReady() }
            events.log("ready", node: name)
            startIfReady(name)
        case .stats(let s):
            let (external, now, start) = (cluster.external, SystemClock.monotonicNanos(), machine.measureStart?.mono)
            cluster.nodes.modify(name) { node in
                node.telemetry.lastStats = s
                if node.role == .writer { node.telemetry.published(s.published, inEpoch: s.epoch) }
                // No /proc across hosts: the node's own CPU and RSS, from its STATS.
                if external { ResourceSampler.fromStats(s, into: &node.telemetry.resources, now: now, measureStart: start) }
                node.lastSaid = "STATS #\(s.seq)"
            }
            progress.observe(node: name, stats: s)
        case .timeReply(let reply):
            let wallNow = SystemClock.wallNanos()
            cluster.nodes.modify(name) { $0.telemetry.clock.answered(reply, wallNow: wallNow) }
        case .final(let f):
            control.noteFinal(name)
            cluster.nodes.modify(name) { $0.receivedFinal(f) }
            events.log("final", node: name)
        case .bye(let b):
            control.noteBye(name)
            control.farewell(name)
            let external = cluster.external
            cluster.nodes.modify(name) { $0.saidBye(external: external) }
            events.log("bye", node: name, detail: ["reason": String(b.reason.prefix(300))])
        }
    }

    /// Answers a replica's claim on a group (``NameClaims``), with the node's seed when granted.
    func answerClaim(_ hello: Clustersim_V1_Hello, identity: [UInt8]) {
        var w = Clustersim_V1_Welcome()
        let group = hello.claimGroup
        switch claims.answer(group: group, identity: identity, host: hello.host, allowed: cluster.external, nodes: cluster.nodes,
                             isRegistered: control.isKnown) {
        case .granted(let name, let new):
            w.node = name
            if new { events.log("claimed", node: name, detail: ["group": group, "pid": "\(hello.pid)", "host": String(hello.host.prefix(100))]) }
            if !(cluster.nodes[name]?.lifecycle.hasRegistered ?? true) {
                cluster.nodes.modify(name) { $0.lastSaid = "claimed by a replica on host \(String(hello.host.prefix(100))) (pid \(hello.pid)); no HELLO under the name since" }
            }
        case .refused(let why):
            w.refusal = why
        }
        if !w.node.isEmpty, let spec = topology.nodes.first(where: { $0.name == w.node }) {
            w.seed = NodeCommands.readerSeed(topology, for: spec)
        }
        if !w.refusal.isEmpty { refuse(.claimRefused, "a claim on group \"\(group.prefix(100))\": \(w.refusal)") }
        control.welcome(w, to: identity)
    }
}

/// The messages the control plane refused, counted by reason. The first
/// ``loggedPerReason`` of each reason are logged one by one in events.jsonl;
/// the rest only counted, so a flood cannot fill the disk or slow the loop.
struct ControlRefusals: Sendable {
    static let loggedPerReason: UInt64 = 50
    private(set) var counts: [ControlRefusal: UInt64] = [:]

    /// What to do with the refusal just counted.
    enum Logging: Sendable, Hashable {
        case log
        /// Log it, and say that the next ones are only counted.
        case logAndSilence
        case countOnly
    }

    /// Counts one refusal.
    mutating func count(_ reason: ControlRefusal) -> Logging {
        let n = counts[reason, default: 0] + 1
        counts[reason] = n
        return n < Self.loggedPerReason ? .log : n == Self.loggedPerReason ? .logAndSilence : .countOnly
    }

    var total: UInt64 { counts.values.reduce(0, +) }
}
