/// How large a message each socket of a run accepts (`ZMQ_MAXMSGSIZE`), and
/// how many messages a queue may hold within its byte budget: computed here,
/// once, from the topology's writer settings, for the orchestrator (which
/// passes them to the nodes on their command lines), `orchestrator compose`
/// and nodes started by hand (which fall back to the schema's largest
/// snapshot). docs/security.md, "Bounded messages", gives the rules.
///
/// A frame above its socket's limit makes libzmq close that peer's
/// connection before the frame is allocated; the node counts it and goes on.
public struct MessageLimits: Sendable, Hashable {
    // MARK: - What a snapshot holds

    /// A snapshot's fields besides its payload and history (ids, names, the
    /// reason, stamps), at most: the strings are the writer's own, well under this.
    public static let snapshotFieldsBytes = 1_024
    /// One history entry at most (two states, the longest event name and
    /// reason, two varints, framing): about 70 bytes in practice.
    public static let historyEntryBytes = 256
    /// A frame's prefix and envelope (stamps, epoch, version, coalesced, the snapshot's tag and length).
    public static let envelopeBytes = 128
    /// The margin over the largest frame: a quarter, and 64 KiB.
    public static func withMargin(_ bytes: Int) -> Int { bytes + bytes / 4 + 65_536 }

    /// The largest encoded snapshot of a writer with `payloadBytes` of payload and `historyLimit` entries of history.
    public static func snapshotBytes(payloadBytes: Int, historyLimit: Int) -> Int {
        payloadBytes + historyLimit * historyEntryBytes + snapshotFieldsBytes
    }

    /// The limit for a message carrying one snapshot: a frame of the publish
    /// channel, a snapshot reply, a query reply with a snapshot.
    public static func snapshotFrameLimit(payloadBytes: Int, historyLimit: Int) -> Int {
        frameLimit(payloadBytes: payloadBytes, historyLimit: historyLimit, batchCount: 1)
    }

    /// The limit for a frame of the publish channel carrying up to
    /// `batchCount` snapshots (a batch frame, `SNB1`; 1: one snapshot).
    public static func frameLimit(payloadBytes: Int, historyLimit: Int, batchCount: Int) -> Int {
        withMargin(max(1, batchCount) * (snapshotBytes(payloadBytes: payloadBytes, historyLimit: historyLimit) + envelopeBytes)
                   + envelopeBytes)
    }

    /// The most bytes of snapshots a batch frame carries: past it, versions
    /// wait for the next frame. Batching amortises a frame's cost over small
    /// snapshots; large ones gain nothing from sharing a frame.
    public static let batchFrameBytes = 1 << 20

    /// How many versions a batch frame carries at most: the batching's
    /// `maxCount`, and no more of the writer's largest snapshots than fit in
    /// ``batchFrameBytes``. 1 means no batch frames (nil `maxCount`: no batching).
    public static func batchCount(maxCount: Int?, payloadBytes: Int, historyLimit: Int) -> Int {
        guard let maxCount, maxCount >= 2 else { return 1 }
        let each = snapshotBytes(payloadBytes: payloadBytes, historyLimit: historyLimit) + envelopeBytes
        return max(1, min(maxCount, batchFrameBytes / each))
    }

    /// The snapshot frame limit of the schema's largest writer (1 MiB of
    /// payload, 1 024 entries of history): what a node started without
    /// `--max-message` accepts. A batch frame is never larger: it carries at
    /// most ``batchFrameBytes`` of snapshots.
    public static let defaultSnapshotFrameLimit = snapshotFrameLimit(payloadBytes: 1 << 20, historyLimit: 1_024)
    /// What a query load generator started without `--max-message` accepts:
    /// the schema's largest snapshot, or a reader's metrics over an hour.
    public static let defaultQueryReplyLimit = max(defaultSnapshotFrameLimit, metricsBytes(seconds: 3_600))

    /// A typical snapshot frame of such a writer, for sizing queues by bytes
    /// (a history entry is about 64 bytes, the rest about 256).
    public static func typicalFrameBytes(payloadBytes: Int, historyLimit: Int) -> Int {
        payloadBytes + historyLimit * 64 + 256
    }

    // MARK: - Requests and the control plane

    /// Requests (`SnapshotRequest`, `QueryRequest`) and subscriptions: a few
    /// dozen bytes each; the limit of every socket that only takes those.
    public static let requestBytes = 16 * 1_024
    /// What the orchestrator sends a node (START, STOP, probes, `Welcome`, `AddDelay`): the limit of a node's control socket.
    public static let controlToNodeBytes = 64 * 1_024
    /// A node's metrics (`FinalMetrics`, a query reply's `metrics_json`) hold
    /// a histogram, fixed texts and a series point per second of the node's
    /// life: 8 MiB and 4 KiB a second (20 times what a point takes) bound them.
    public static func metricsBytes(seconds: Double) -> Int {
        (8 << 20) + Int(max(0, seconds).rounded(.up)) * 4_096
    }

    // MARK: - Byte budgets of queues

    /// What one subscriber's queue may hold on the writer's PUB and a relay's
    /// XPUB, and a reader's SUB queue: a frame count at the high-water mark
    /// times the frame size stays within it. 256 MiB keeps the default 100 000
    /// messages for frames up to 2.6 KiB (every ready topology) and 255 frames
    /// of 1 MiB. libzmq shares one copy of a frame among the queues it is in,
    /// so subscribers that are behind by as much hold it once, not each.
    public static let subscriberQueueBytes = 256 << 20
    /// What replies queued for one client of a ROUTER (the writer's snapshot
    /// service, a query service) may hold.
    public static let clientRepliesBytes = 16 << 20
    /// What a query reader's history of snapshots (`GetVersion`) may hold, beside its `historySize`.
    public static let queryHistoryBytes = 64 << 20
    /// What a reader may hold of updates while it waits for its start snapshot.
    public static let heldUpdatesBytes = 64 << 20

    /// A high-water mark that keeps a queue of `frameBytes` frames within
    /// `budget` bytes: at most `messages` (0 there means no message limit),
    /// at least `floor`.
    public static func highWaterMark(messages: Int, frameBytes: Int, budget: Int, floor: Int = 16) -> Int32 {
        let byBytes = max(floor, budget / max(1, frameBytes))
        return Int32(clamping: messages > 0 ? min(messages, byBytes) : byBytes)
    }

    // MARK: - A run's limits

    /// A frame of the publish channel (a batch of snapshots, when the writer
    /// batches), a snapshot reply: what readers, relays and the query load
    /// accept from the writer's side.
    public var snapshotFrame: Int
    /// A query reply: a snapshot, or a reader's metrics.
    public var queryReply: Int
    /// A message to the orchestrator: the largest is a node's final dump.
    public var control: Int
    /// The largest of the writer's typical frames (a full batch, when it batches), for queue sizes.
    public var typicalFrame: Int

    /// The limits of a run of `topology`. A node lives longer than the
    /// measured phase: its readiness, warm-up and drain add to `duration`.
    public init(topology: Topology) {
        let w = topology.writer
        let batch = Self.batchCount(maxCount: w.batch?.maxCount, payloadBytes: w.payloadBytes, historyLimit: w.historyLimit)
        snapshotFrame = max(Self.snapshotFrameLimit(payloadBytes: w.payloadBytes, historyLimit: w.historyLimit),
                            Self.frameLimit(payloadBytes: w.payloadBytes, historyLimit: w.historyLimit, batchCount: batch))
        typicalFrame = batch * Self.typicalFrameBytes(payloadBytes: w.payloadBytes, historyLimit: w.historyLimit)
        let lifetime = topology.readyTimeout.seconds + topology.warmup.seconds + topology.duration.seconds + 60
        let metrics = Self.metricsBytes(seconds: lifetime)
        queryReply = max(snapshotFrame, metrics)
        control = metrics
    }

    /// A high-water mark for one subscriber's queue of this run's frames: at most `messages`.
    public func subscriberHighWaterMark(messages: Int) -> Int32 {
        Self.highWaterMark(messages: messages, frameBytes: typicalFrame, budget: Self.subscriberQueueBytes)
    }
}
