/// What a reader process does with the snapshots it receives.
public enum ReaderRole: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable {
    /// Appends every snapshot to a JSON Lines file, flushed in batches.
    case log
    /// Serves `GetLatest`, `GetVersion` and `Health` over ROUTER with a bounded worker pool.
    case query
    /// Shows the current state, version, lag and drops in a terminal.
    case cli
    /// Forwards the writer's stream (XSUB/XPUB) to readers subscribed through it.
    case relay
}

/// How a reader behaves when it falls behind the writer.
public enum SlowPolicy: String, Sendable, CaseIterable, Codable {
    /// ZeroMQ drops at the high-water mark; gaps are counted.
    case drop
    /// Only the newest snapshot is kept (`ZMQ_CONFLATE`).
    case conflate
    /// On a gap, fetch the current snapshot from the snapshot service.
    case resync
    /// Past the lag limit, disconnect and resync (the Suicidal Snail).
    case snail
}

/// How a reader takes the stream off its connection.
public enum SubscriberKind: String, Sendable, CaseIterable, Codable {
    /// A libzmq SUB socket: its I/O thread reads the connection and hands each
    /// frame to the reader's thread. Every security mode and policy.
    case libzmq
    /// The reader reads the connection itself, speaking ZMTP 3.0 with the
    /// NULL mechanism (`DirectSubscriber`): one thread woken per read instead
    /// of two per frame; under CURVE a CurveZMQ client of its own. Not with `conflate`.
    case direct
}

/// How the writer puts frames on its subscribers' connections.
public enum PublisherKind: String, Sendable, CaseIterable, Codable {
    /// A libzmq PUB socket: the writer's thread hands each frame to libzmq's
    /// I/O thread, which writes it to each subscriber. Every security mode.
    case libzmq
    /// The writer writes each frame to every subscriber itself, speaking
    /// ZMTP 3.0 with the NULL mechanism (`DirectPublisher`): no I/O thread
    /// and no hand-off between threads. Plain sockets only (not CURVE), and
    /// no `nodrop`.
    case direct
}

/// How the kernel schedules a node's threads (Linux scheduling policies
/// anyone may choose for themselves).
public enum SchedulingPolicy: String, Sendable, CaseIterable, Codable {
    /// `SCHED_OTHER`: the default.
    case normal
    /// `SCHED_BATCH`: the same share of the CPU, but a thread that wakes does
    /// not take the CPU from the one running; it waits for it to block or for
    /// the end of its slice. Readers so woken by the writer's writes leave
    /// the writer to finish the fan-out first (docs/topology.md, "Nice values
    /// and scheduling").
    case batch
}

/// The ZeroMQ transport the writer publishes on.
/// What the writer promises its readers when it has more than one version to
/// send at once (it fell behind, or the readers cannot take a frame per version).
public enum DeliveryPromise: String, Sendable, CaseIterable, Codable {
    /// Every version reaches every reader that keeps up: the writer batches
    /// the versions waiting into one frame (``BatchSpec``).
    case everyVersion = "every-version"
    /// Readers hold the newest state soon: the writer sends only the newest of
    /// the versions due (coalescing); readers count the rest as skipped.
    case newestState = "newest-state"
}

public enum Transport: String, Sendable, CaseIterable, Codable {
    case tcp
    case ipc
}

/// A fault the orchestrator can inject.
public enum FaultAction: String, Sendable, CaseIterable, Codable {
    /// SIGKILL the node.
    case kill
    /// SIGTERM the node (graceful stop).
    case terminate
    /// SIGSTOP the node; healed by `for` or a later `resume`.
    case pause
    /// SIGCONT a paused node.
    case resume
    /// Start the node again (after a kill or terminate, or stop it first if it runs).
    case restart
    /// Burn CPU beside the node for `for`.
    case cpuHog = "cpu-hog"
    /// Cut the node or group off the network for `for` (launcher `netns`).
    case partition
    /// Drop a fraction of packets to the node or group for `for` (launcher `netns`).
    case loss
    /// Limit the bandwidth to the node or group for `for` (launcher `netns`).
    case bandwidth
    /// Add forwarding delay on a relay node or group.
    case delay

    /// Actions that act on the network between nodes, and may target a whole group.
    public var isNetworkFault: Bool {
        switch self {
        case .partition, .loss, .bandwidth, .delay: true
        default: false
        }
    }

    /// Actions that only the `netns` launcher can carry out.
    public var needsNetworkNamespaces: Bool {
        switch self {
        case .partition, .loss, .bandwidth: true
        default: false
        }
    }

    /// Actions that heal after `for`, and must have it.
    public var requiresFor: Bool {
        switch self {
        case .cpuHog, .partition, .loss, .bandwidth: true
        default: false
        }
    }

    /// Actions that accept a `for`.
    public var acceptsFor: Bool {
        requiresFor || self == .pause || self == .delay
    }

    /// Actions the seeded chaos generator may pick.
    public static let chaosActions: [FaultAction] = [.kill, .terminate, .pause, .restart, .cpuHog]
}

/// How reader processes are placed on the launching host's CPUs.
public enum CPUPinning: String, Sendable, CaseIterable, Codable {
    /// The scheduler places every thread.
    case off
    /// Each reader process (its thread and libzmq's I/O thread) is pinned to
    /// one CPU, the readers taken in node order round the CPUs the
    /// orchestrator may use; the writer, relays and load generators are not.
    case spread
}

/// How the orchestrator starts nodes.
public enum LauncherKind: String, Sendable, CaseIterable, Codable {
    /// Child processes of the orchestrator, never orphaned.
    case local
    /// Each node in its own Linux network namespace.
    case netns
    /// Nodes started elsewhere (docker compose, by hand) register themselves.
    case external
    /// The topology as a docker compose project on this host's engine: one
    /// container per node and the orchestrator in one of its own (external
    /// launcher inside); this process brings it up, applies the faults to the
    /// containers, copies the report out and takes it all down.
    case compose
    /// The same as a swarm stack (a single-node swarm is initialised when the
    /// engine is in none).
    case swarm

    /// Whether the nodes run in containers of a stack this orchestrator deploys.
    public var deploysContainers: Bool { self == .compose || self == .swarm }

    /// Whether the launcher can apply the network faults (partition, loss, bandwidth).
    public var appliesNetworkFaults: Bool { self == .netns || deploysContainers }

    /// Whether others start the nodes, which register themselves: the
    /// orchestrator that runs the topology waits for them (`registerTimeout`).
    public var nodesRegister: Bool { self == .external || deploysContainers }
}
