/// The name of a counter in metrics.json, metrics.prom and STATS.
///
/// The nodes that count and the report that reads the counts use these
/// constants, so a name is spelled once. The dumps keep plain strings
/// (`counters` is `[String: UInt64]`): a counter this build does not know,
/// from another version of a node, still reads and renders.
public struct Counter: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

extension Counter {
    // Every reader's version accounting (VersionTracker).
    public static let received = Counter("received")
    public static let applied = Counter("applied")
    public static let gaps = Counter("gaps")
    public static let lostInGaps = Counter("lost_in_gaps")
    public static let lostTail = Counter("lost_tail")
    public static let lostAtEpochStart = Counter("lost_at_epoch_start")
    public static let lost = Counter("lost")
    public static let skipped = Counter("skipped")
    public static let duplicates = Counter("duplicates")
    public static let outOfOrder = Counter("out_of_order")
    public static let staleDiscarded = Counter("stale_discarded")
    public static let epochChanges = Counter("epoch_changes")
    public static let oldEpochDiscarded = Counter("old_epoch_discarded")
    public static let snapshotsApplied = Counter("snapshots_applied")
    public static let coveredBySnapshot = Counter("covered_by_snapshot")
    public static let coalesced = Counter("coalesced")
    public static let implausibleDiscarded = Counter("implausible_discarded")
    // Readers.
    public static let decodeErrors = Counter("decode_errors")
    public static let heartbeats = Counter("heartbeats")
    public static let resyncs = Counter("resyncs")
    public static let snailDisconnects = Counter("snail_disconnects")
    public static let writerVersionSeen = Counter("writer_version_seen")
    public static let latencyClamped = Counter("latency_clamped")
    public static let latencyNegative = Counter("latency_negative")
    public static let processingDelayNanos = Counter("processing_delay_ns")
    public static let logLines = Counter("log_lines")
    public static let logFlushes = Counter("log_flushes")
    public static let logFsyncs = Counter("log_fsyncs")
    public static let logWriteErrors = Counter("log_write_errors")
    public static let logLinesDropped = Counter("log_lines_dropped")
    public static let queryServed = Counter("query_served")
    public static let queryBusy = Counter("query_busy")
    public static let queryNotAvailable = Counter("query_not_available")
    public static let queryBadRequests = Counter("query_bad_requests")
    /// Batch (`SNB1`) frames: received by a reader, sent by the writer.
    public static let batchFrames = Counter("batch_frames")
    /// Versions that came in batch frames: received by a reader, sent by the writer.
    public static let batchedVersions = Counter("batched_versions")
    // The writer.
    public static let published = Counter("published")
    public static let finalVersion = Counter("final_version")
    public static let sendFailed = Counter("send_failed")
    public static let snapshotRequestsServed = Counter("snapshot_requests_served")
    public static let illegalEvents = Counter("illegal_events")
    public static let lateTicks = Counter("late_ticks")
    public static let blockedNanos = Counter("blocked_ns")
    public static let blockedSends = Counter("blocked_sends")
    /// Frames of versions sent (`SNP1` and `SNB1`); `published` counts the versions.
    public static let framesSent = Counter("frames_sent")
    /// The writer's own publisher (`publisher: direct`): frames not queued
    /// for a subscriber whose queue was at the high-water mark, summed over
    /// subscribers (libzmq's PUB drops these without a count).
    public static let subscriberQueueDrops = Counter("subscriber_queue_drops")
    /// The writer's own publisher: connections refused at the handshake (not ZMTP 3, not NULL, not a subscriber).
    public static let handshakesRefused = Counter("handshakes_refused")
    /// Transitions of one kind, `transition_<kind>`.
    public static func transition(_ kind: String) -> Counter { Counter("transition_\(kind)") }
    // Relays.
    public static let forwarded = Counter("forwarded")
    public static let dropped = Counter("dropped")
    /// Versions in the frames a relay dropped (a batch frame carries several).
    public static let droppedVersions = Counter("dropped_versions")
    public static let subscriptionsForwarded = Counter("subscriptions_forwarded")
    public static let heldAtStop = Counter("held_at_stop")
    public static let delayFaults = Counter("delay_faults")
    /// Snapshot frames a relay did not hold: its hold queue had its byte budget full.
    public static let heldOverBudget = Counter("held_over_budget")
    // The query load generator.
    public static let sent = Counter("sent")
    public static let sentGetLatest = Counter("sent_get_latest")
    public static let sentGetVersion = Counter("sent_get_version")
    public static let sentHealth = Counter("sent_health")
    public static let sentMetrics = Counter("sent_metrics")
    public static let lateReplies = Counter("late_replies")
    public static let answeredOK = Counter("ok")
    public static let answeredBusy = Counter("busy")
    public static let answeredNotAvailable = Counter("not_available")
    public static let answeredNotReady = Counter("not_ready")
    public static let answeredBadRequest = Counter("bad_request")
    public static let clientSaturated = Counter("client_saturated")
    public static let timeouts = Counter("timeouts")
    public static let unansweredAtStop = Counter("unanswered_at_stop")
    // Every node's sockets (docs/security.md, "Bounded messages").
    /// Connections of the node's connecting sockets that libzmq closed for a
    /// protocol error (a frame above the socket's `ZMQ_MAXMSGSIZE`, a
    /// malformed ZMTP command) and did not retry; each was connected again.
    public static let connectionsDropped = Counter("connections_dropped")
    /// Connections to the node's bound sockets that ended: a peer that left,
    /// or one libzmq closed for a protocol error (the events do not tell them apart).
    public static let peerDisconnects = Counter("peer_disconnects")
}

/// The name of a gauge in metrics.json and metrics.prom.
public struct Gauge: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

extension Gauge {
    public static let runSeconds = Gauge("run_seconds")
    public static let rateAsked = Gauge("rate_asked")
    public static let rateAchieved = Gauge("rate_achieved")
    public static let cpuSecondsRun = Gauge("cpu_seconds_run")
    public static let payloadBytes = Gauge("payload_bytes")
    public static let lagMsLast = Gauge("lag_ms_last")
    public static let cpuPinned = Gauge("cpu_pinned")
    /// The node's nice value, read back from the kernel at its start (its main thread's).
    public static let nice = Gauge("nice")
    /// 1 when the node's main thread is under `SCHED_BATCH` (read at its start), else 0.
    public static let schedulingBatch = Gauge("scheduling_batch")
    public static let queryBusyRatio = Gauge("query_busy_ratio")
    public static let busyRatio = Gauge("busy_ratio")
    public static let clients = Gauge("clients")
    public static let delayMs = Gauge("delay_ms")
    public static let jitterMs = Gauge("jitter_ms")
    public static let loss = Gauge("loss")
    /// The largest message the node's data sockets accept (`ZMQ_MAXMSGSIZE`).
    public static let maxMessageBytes = Gauge("max_message_bytes")
    /// The writer's (or a relay's) high-water mark per subscriber, as applied after the byte budget.
    public static let sendHighWaterMark = Gauge("sndhwm")
}

extension Dictionary where Key == String, Value == UInt64 {
    /// The count of `counter`, 0 when absent.
    @inlinable
    public subscript(_ counter: Counter) -> UInt64 {
        get { self[counter.rawValue] ?? 0 }
        set { self[counter.rawValue] = newValue }
    }
}

extension Dictionary where Key == String, Value == Double {
    /// The value of `gauge`, nil when absent.
    @inlinable
    public subscript(_ gauge: Gauge) -> Double? {
        get { self[gauge.rawValue] }
        set { self[gauge.rawValue] = newValue }
    }
}

/// The names of a node's other latencies in metrics.json (`latencies`) and metrics.prom.
public enum LatencyName {
    /// The writer, batching: from making a version to the send of the frame that carried it.
    public static let batchingDelay = "batching_delay"
    /// A reader, of batch frames only: receive time minus the frame's own send
    /// stamp (the transport), where the main latency counts from each version's making.
    public static let batchTransport = "batch_transport"
}
