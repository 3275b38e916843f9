import ClusterCore

/// Why the control plane refused a message: the `reason` of a
/// `control-refused` event in events.jsonl and a key of report.json's
/// `controlPlane.refused` (docs/protocol.md, §6, "Who may say what").
enum ControlRefusal: String, CaseIterable, Sendable, Codable {
    /// Not one frame holding a `ControlMessage` with a body.
    case malformed
    /// A message other than HELLO from a peer that registered no name.
    case unknownPeer = "unknown-peer"
    /// A HELLO for a name the topology has no node of.
    case unknownNode = "unknown-node"
    /// A HELLO for a name another peer holds.
    case nameTaken = "name-taken"
    /// A HELLO for a node whose process this orchestrator has not started (or that ended).
    case notLaunched = "not-launched"
    /// A HELLO not from the process the orchestrator started for the node:
    /// another pid, or over a connection that process does not hold.
    case wrongProcess = "wrong-process"
    /// A HELLO from a peer that holds another name.
    case secondName = "second-name"
    /// A FINAL from a node that is not stopping.
    case finalNotStopping = "final-not-stopping"
    /// A second FINAL from the same peer.
    case finalRepeated = "final-repeated"
    /// READY, STATS or a time reply from the peer of an incarnation a newer process replaced.
    case stale
    /// A message only the orchestrator sends (START, STOP, a probe, a Welcome, AddDelay).
    case wrongDirection = "wrong-direction"
    /// A claim on a group refused (answered with the reason).
    case claimRefused = "claim-refused"
    /// CURVE: a message whose key is not that of the node it names (or that its peer registered as).
    case keyMismatch = "key-mismatch"
    /// An AgentHello from anywhere but this host's loopback, or a FaultReply
    /// from a peer that is not the registered fault agent.
    case notAgent = "not-agent"
}

/// The peer that registered a node's name: bound to the first that did, until
/// its incarnation ends (docs/protocol.md, §6, "Who may say what").
struct Registration: Sendable, Hashable {
    /// The ROUTER identity of the node's DEALER.
    var identity: [UInt8]
    /// The pid its HELLO gave.
    var pid: Int32
    /// It said BYE.
    var saidBye = false
    /// Its FINAL was taken.
    var finalTaken = false
}

/// The rules of the control plane, as values: what a HELLO may register and
/// what a registered peer may say, decided from the node's lifecycle and its
/// registration. No I/O; the run loop does what the verdict says.
enum ControlAdmission {
    /// What to do with a message.
    enum Verdict: Sendable, Hashable {
        case accept
        case refuse(ControlRefusal, String)
    }

    /// What to do with a HELLO.
    enum HelloVerdict: Sendable, Hashable {
        /// Register the peer under the name; `replacing` a peer whose incarnation ended.
        case register(replacing: Bool)
        /// The registered peer said HELLO again: nothing changes.
        case repeated
        case refuse(ControlRefusal, String)
    }

    /// What is known when a HELLO comes.
    struct HelloFacts {
        var name: String
        var pid: Int32
        /// The node of that name; nil when the topology has none.
        var node: ManagedNode?
        /// Who holds the name now.
        var holder: Registration?
        /// The name the sending peer holds, if it holds one.
        var senderHolds: String?
        /// The orchestrator starts the processes (local, netns launchers).
        var ownsProcesses: Bool
    }

    /// A HELLO. Under a launcher that starts the processes, the name goes to
    /// the first peer that is the process running as the node: its HELLO
    /// gives that pid, and its connection is one that process holds
    /// (`heldByProcess`, asked with the pid, ``ConnectionOwner``). Under the
    /// external launcher it goes to the first peer, and again to a new one
    /// once the holder said BYE or its connection closed (`holderConnected`,
    /// asked only then).
    static func hello(_ f: HelloFacts, holderConnected: () -> Bool, heldByProcess: (Int32) -> Bool) -> HelloVerdict {
        guard let node = f.node else { return .refuse(.unknownNode, "HELLO as \"\(f.name)\", which names no node of the topology") }
        if let other = f.senderHolds {
            return other == f.name ? .repeated : .refuse(.secondName, "HELLO as \"\(f.name)\" from the peer registered as \"\(other)\"")
        }
        if f.ownsProcesses {
            guard let running = node.lifecycle.pid else {
                return .refuse(.notLaunched, "HELLO as \"\(f.name)\" (pid \(f.pid)), which has no process running")
            }
            if let holder = f.holder, holder.pid == running {
                return .refuse(.nameTaken, "HELLO as \"\(f.name)\" (pid \(f.pid)): its process \(running) registered already")
            }
            guard running == f.pid else {
                return .refuse(.wrongProcess, "HELLO as \"\(f.name)\" with pid \(f.pid); the process started for it is \(running)")
            }
            guard heldByProcess(running) else {
                return .refuse(.wrongProcess, "HELLO as \"\(f.name)\" with pid \(f.pid), over a connection process \(running) does not hold")
            }
            return .register(replacing: f.holder != nil)
        }
        guard let holder = f.holder else { return .register(replacing: false) }
        if holder.saidBye || !holderConnected() { return .register(replacing: true) }
        return .refuse(.nameTaken, "HELLO as \"\(f.name)\" (pid \(f.pid)) while the peer that registered it (pid \(holder.pid)) is connected")
    }

    /// A message other than HELLO from the peer registered as `node`.
    /// - Parameter tearingDown: the orchestrator is stopping every process itself: a FINAL is expected from any.
    static func message(_ m: NodeMessage, from node: ManagedNode, registration: Registration, tearingDown: Bool) -> Verdict {
        // A newer process of the node runs: the peer is an earlier incarnation's.
        let superseded = node.lifecycle.pid.map { $0 != registration.pid } ?? false
        switch m {
        case .final:
            if registration.finalTaken { return .refuse(.finalRepeated, "a second FINAL from \(node.name)") }
            if tearingDown { return .accept }
            switch node.lifecycle {
            case .stopping where !superseded:
                return .accept
            case .exited, .launched, .stopping:
                // Its process ended (or was replaced) after it was told to stop or was stopped by a fault.
                if node.history.exits.last?.expected == true { return .accept }
            case .pending, .registered, .ready:
                break
            }
            return .refuse(.finalNotStopping, "FINAL from \(node.name), which is \(phase(node.lifecycle)), not stopping")
        case .bye:
            return .accept
        case .ready, .stats, .timeReply:
            return superseded ? .refuse(.stale, "\(m.kind) from an earlier process of \(node.name) (pid \(registration.pid))") : .accept
        }
    }

    /// A lifecycle phase in words.
    static func phase(_ l: NodeLifecycle) -> String {
        switch l {
        case .pending: "not started"
        case .launched: "started, not registered"
        case .registered: "registered, not ready"
        case .ready: "running"
        case .stopping: "stopping"
        case .exited: "ended"
        }
    }
}
