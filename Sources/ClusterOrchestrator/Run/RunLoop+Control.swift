import ClusterCore

/// What the nodes say on the control plane, taken into the node table.
extension RunLoop {
    /// Takes the messages waiting, at most 2 000 per turn so the loop's other work is never starved.
    func receiveControlMessages() {
        for _ in 0..<2_000 {
            guard let event = control.receive() else { break }
            handle(event)
        }
    }

    /// Takes one event: a HELLO registers a known node, a claim is answered, the rest goes to the node it came from.
    func handle(_ event: ControlEvent) {
        switch event {
        case .malformed(let count):
            events.log("bad-control-message", detail: ["bytes": "\(count)"])
        case .claim(let hello, let identity):
            answerClaim(hello, identity: identity)
        case .hello(let hello, let identity):
            guard cluster.nodes[hello.node] != nil else {
                events.log("unknown-node", detail: ["node": hello.node])
                return
            }
            control.register(identity, as: hello.node)
            let external = cluster.external
            cluster.nodes.modify(hello.node) {
                $0.registered(pid: hello.pid, external: external, now: SystemClock.monotonicNanos())
                $0.host = hello.host
            }
            events.log("hello", node: hello.node, detail: ["pid": "\(hello.pid)"])
        case .agentHello(let hello, let identity):
            control.registerAgent(identity)
            agent = FaultAgentLink(engine: hello.engine, host: hello.host, pid: hello.pid)
            events.log("agent", detail: ["engine": hello.engine, "host": hello.host, "pid": "\(hello.pid)"])
            progress.note("fault agent connected: \(hello.engine) on \(hello.host); faults apply to the containers")
        case .faultReply(let reply):
            events.log("late-fault-reply", detail: ["id": "\(reply.id)", "detail": reply.detail])
        case .node(let name, let message):
            handle(message, from: name)
        case .ignored:
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
            cluster.nodes.modify(name) { $0.receivedFinal(f) }
            events.log("final", node: name)
        case .bye(let b):
            let external = cluster.external
            cluster.nodes.modify(name) { $0.saidBye(external: external) }
            events.log("bye", node: name, detail: ["reason": b.reason])
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
            if new { events.log("claimed", node: name, detail: ["group": group, "pid": "\(hello.pid)", "host": hello.host]) }
            if !(cluster.nodes[name]?.lifecycle.hasRegistered ?? true) {
                cluster.nodes.modify(name) { $0.lastSaid = "claimed by a replica on host \(hello.host) (pid \(hello.pid)); no HELLO under the name since" }
            }
        case .refused(let why):
            w.refusal = why
        }
        if !w.node.isEmpty, let spec = topology.nodes.first(where: { $0.name == w.node }) {
            w.seed = NodeCommands.readerSeed(topology, for: spec)
        }
        if !w.refusal.isEmpty { events.log("claim-refused", detail: ["group": group, "why": w.refusal]) }
        control.welcome(w, to: identity)
    }
}
