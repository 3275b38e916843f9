import ClusterCore
import Foundation
import Logging
import SwiftProtobuf
import ZeroMQ

/// A node's side of the control plane: a DEALER connected to the
/// orchestrator's ROUTER. Each message is one frame holding a `ControlMessage`.
///
/// Sequence (docs/protocol.md): HELLO → READY → (START) → STATS every second →
/// (STOP) → FINAL → BYE. A node started without a control endpoint runs alone
/// and this client is absent.
public final class ControlClient {
    let socket: Socket
    let node: String
    /// The orchestrator's endpoint, as connected.
    let endpoint: String
    let logger: Logger
    /// With CURVE, where the handler's monitor hands over the connection events a ``ConnectionWatch`` reads.
    let events: ConnectionWatch.Inbox?
    private(set) var sent: UInt64 = 0
    private var statsSequence: UInt64 = 0

    /// Connects to the orchestrator.
    /// - Throws: `ZMQError` when the endpoint is invalid.
    public convenience init(context: Context, endpoint: String, node: String, logger: Logger) throws {
        try self.init(context: context, endpoint: endpoint, node: node, logger: logger, security: nil)
    }

    /// Connects to the orchestrator, as a CURVE client of its control plane when `security` is given,
    /// in the I/O threads `affinity` (``ZeroMQ/Socket/setAffinity(_:)``) when given.
    /// - Throws: `ZMQError` when the endpoint is invalid; `CurveFileError` when the peers file has no orchestrator key.
    init(context: Context, endpoint: String, node: String, logger: Logger, security: NodeSecurity?,
         affinity: UInt64? = nil) throws {
        socket = try context.socket(.dealer)
        if let affinity { try socket.setAffinity(affinity) }
        try socket.setLinger(.seconds(2))
        try socket.setSendHighWaterMark(10_000)
        events = security.map { _ in ConnectionWatch.Inbox() }
        try security?.client(socket, of: CurvePeers.orchestrator, label: "control", forwarding: events)
        // The orchestrator sends a node only small messages: a larger one drops the connection.
        try socket.setMaxMessageSize(Int64(MessageLimits.controlToNodeBytes))
        try socket.connect(endpoint)
        self.node = node
        self.endpoint = endpoint
        self.logger = logger
    }

    /// Sends one control message; never blocks the node (drops with a log line if the orchestrator is gone).
    public func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body) {
        var m = Clustersim_V1_ControlMessage()
        m.body = body
        do {
            let bytes: [UInt8] = try m.serializedBytes()
            if try !socket.send(bytes, dontWait: true) {
                logger.warning("control message dropped: orchestrator not reachable", metadata: ["node": "\(node)"])
            }
            sent += 1
        } catch {
            logger.warning("control send failed", metadata: ["error": "\(error)"])
        }
    }

    /// Says HELLO: who this node is, and the endpoints others need.
    public func hello(role: NodeRole, incarnation: UInt64, pubEndpoint: String = "", snapshotEndpoint: String = "",
                      serviceEndpoint: String = "") {
        var h = Clustersim_V1_Hello()
        h.node = node
        h.role = role.name
        h.pid = getpid()
        h.host = HostInfo.current().hostname
        h.incarnation = incarnation
        h.pubEndpoint = pubEndpoint
        h.snapshotEndpoint = snapshotEndpoint
        h.serviceEndpoint = serviceEndpoint
        send(.hello(h))
    }

    /// Says READY.
    public func ready(epoch: UInt64 = 0, version: UInt64 = 0) {
        var r = Clustersim_V1_Ready()
        r.node = node
        r.epoch = epoch
        r.version = version
        send(.ready(r))
    }

    /// Sends the once-a-second STATS: node, sequence, time, CPU and RSS are
    /// filled here, the rest by `fill`.
    public func stats(interval: LatencySummary, _ fill: (inout Clustersim_V1_Stats) -> Void) {
        statsSequence += 1
        var s = Clustersim_V1_Stats()
        s.node = node
        s.seq = statsSequence
        s.wallNs = SystemClock.wallNanos()
        s.intervalLatency = .init(interval)
        if let p = ProcessStats.read(withSmaps: false) {
            s.cpuSeconds = p.cpuSeconds
            s.rssBytes = p.rssBytes
        }
        fill(&s)
        send(.stats(s))
    }

    /// Sends the final dump, then BYE.
    ///
    /// Then waits, at most `farewellWait`, for the orchestrator's `Farewell`
    /// (its answer to BYE, so the FINAL before it has arrived): a process that
    /// ends while the kernel still holds the FINAL's last bytes loses them if
    /// its network goes with it, as a container's does, and a FINAL larger
    /// than TCP's first window after an idle spell (about 14 KB) waits for an
    /// acknowledgement before the rest goes.
    /// - Returns: whether the orchestrator said farewell in time.
    @discardableResult
    public func finish(metrics: NodeMetrics, histogram: LatencyHistogram, reason: String,
                       farewellWait: Duration = .seconds(2)) -> Bool {
        send(Self.final(node: node, metrics: metrics, histogram: histogram))
        var bye = Clustersim_V1_Bye()
        bye.node = node
        bye.reason = reason
        send(.bye(bye))
        let deadline = ContinuousClock.now.advanced(by: farewellWait)
        var poller = Poller()
        let index = poller.add(socket)
        while ContinuousClock.now < deadline {
            _ = try? poller.poll(timeout: .milliseconds(50))
            guard poller.events(at: index).contains(.readable) else { continue }
            while let body = receive() {
                if case .farewell = body { return true }
            }
        }
        logger.warning("no farewell from the orchestrator: its answer to BYE did not come; the FINAL may not have arrived",
                       metadata: ["node": "\(node)", "waited": "\(farewellWait)"])
        return false
    }

    /// Receives one pending control message without waiting.
    /// - Returns: nil when none is pending; malformed messages are logged and skipped.
    public func receive() -> Clustersim_V1_ControlMessage.OneOf_Body? {
        while true {
            guard let msg = try? socket.receive(dontWait: true) else { return nil }
            let bytes = msg.bytes
            if let m = try? Clustersim_V1_ControlMessage(serializedBytes: bytes), let body = m.body {
                return body
            }
            logger.warning("malformed control message ignored", metadata: ["bytes": "\(bytes.count)"])
        }
    }

    /// Answers a clock-offset probe at once.
    public func answer(_ req: Clustersim_V1_TimeRequest) {
        var r = Clustersim_V1_TimeReply()
        r.sequence = req.sequence
        r.orchestratorWallNs = req.orchestratorWallNs
        r.nodeWallNs = SystemClock.wallNanos()
        r.nodeMonotonicNs = SystemClock.monotonicNanos()
        send(.timeReply(r))
    }

    /// The final metrics message for a node.
    static func final(node: String, metrics: NodeMetrics, histogram: LatencyHistogram) -> Clustersim_V1_ControlMessage.OneOf_Body {
        var f = Clustersim_V1_FinalMetrics()
        f.node = node
        f.metricsJson = metrics.jsonText()
        f.metricsProm = metrics.prometheusText()
        f.latencyHgrm = histogram.hgrmText()
        f.histogram = histogram.encodedForTransfer()
        return .final(f)
    }
}

extension Clustersim_V1_LatencySummary {
    init(_ s: LatencySummary) {
        self.init()
        count = s.count
        p50Us = s.p50Us
        p90Us = s.p90Us
        p99Us = s.p99Us
        p999Us = s.p999Us
        maxUs = s.maxUs
        meanUs = s.meanUs
    }
}

/// A replicated container's name: asked of the orchestrator, which hands out
/// the nodes of a topology group one per asker.
///
/// Compose and swarm start `replicas: N` identical containers for a group;
/// none of them knows which of the group's nodes it is. Each says HELLO with
/// `claim_group` on a DEALER of its own and waits for a `Welcome`; then it
/// runs as that node, registering under the name like any other.
public enum NameClaim {
    /// A claim that was answered with a name.
    public struct Claimed: Sendable, Equatable {
        public let name: String
        public let seed: UInt64
    }

    /// Why no name was had.
    public struct ClaimError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Asks the orchestrator at `endpoint` for a node of `group`.
    ///
    /// HELLO is repeated every 2 s until answered (the orchestrator may not be
    /// up yet); the orchestrator answers repeats from the same DEALER with
    /// the same name.
    /// - Parameters:
    ///   - group: the topology group, e.g. `cli`.
    ///   - role: the role this node will play, for the orchestrator's log.
    ///   - timeoutNanos: how long to wait for a `Welcome`.
    ///   - curve: under CURVE, the node's files: the claim goes to the control
    ///     plane as a CURVE client with the group's key pair.
    /// - Returns: the node name and its seed.
    /// - Throws: `ClaimError` when the orchestrator refuses (the group has no
    ///   unclaimed node) or does not answer in time; `ZMQError` for a bad endpoint;
    ///   `CurveFileError` for key files that cannot be used.
    public static func claim(group: String, role: NodeRole, endpoint: String, timeoutNanos: UInt64,
                             curve: CurveFiles? = nil, logger: Logger) throws -> Claimed {
        let context = try Context()
        let security = try curve.map { try NodeSecurity(files: $0, context: context, logger: logger) }
        defer { security?.authenticator.stop() }
        let client = try ControlClient(context: context, endpoint: endpoint, node: "", logger: logger, security: security)
        try client.socket.setLinger(.zero)
        var hello = Clustersim_V1_Hello()
        hello.claimGroup = group
        hello.role = role.name
        hello.pid = getpid()
        hello.host = HostInfo.current().hostname
        hello.incarnation = SystemClock.wallNanos()
        let deadline = SystemClock.monotonicNanos() + timeoutNanos
        var nextHello: UInt64 = 0
        var poller = Poller()
        let index = poller.add(client.socket)
        while true {
            let now = SystemClock.monotonicNanos()
            if now >= deadline {
                throw ClaimError(description: "no answer from the orchestrator at \(endpoint) within \(timeoutNanos / 1_000_000_000) s to a claim on group \"\(group)\"; is it running with --launcher external?")
            }
            if now >= nextHello {
                client.send(.hello(hello))
                nextHello = now + 2_000_000_000
            }
            _ = try? poller.poll(timeout: .nanoseconds(Int64(min(deadline, nextHello) - now)))
            guard poller.events(at: index).contains(.readable) else { continue }
            while let body = client.receive() {
                guard case .welcome(let w) = body else { continue }
                if w.node.isEmpty {
                    throw ClaimError(description: "the orchestrator refused a claim on group \"\(group)\": \(w.refusal)")
                }
                logger.info("name claimed", metadata: ["group": "\(group)", "node": "\(w.node)"])
                return Claimed(name: w.node, seed: w.seed)
            }
        }
    }
}
