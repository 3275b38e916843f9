import Foundation

/// Everything a writer node needs: what `cluster-node writer` parses and the
/// orchestrator renders (``arguments``).
public struct WriterConfig: Sendable, Hashable {
    /// The command-line flags, without their `--`.
    public enum Flag {
        public static let name = "name"
        public static let pub = "pub"
        public static let snapshots = "snapshots"
        public static let rate = "rate"
        public static let payloadBytes = "payload-bytes"
        public static let seed = "seed"
        public static let script = "script"
        public static let stateDirectory = "state-dir"
        public static let sendHighWaterMark = "sndhwm"
        public static let sendBuffer = "sndbuf"
        public static let ioThreads = "io-threads"
        public static let noDrop = "nodrop"
        public static let publisher = "publisher"
        public static let coalesce = "coalesce"
        public static let batchMaxCount = "batch-max-count"
        public static let batchMaxDelay = "batch-max-delay"
        public static let heartbeat = "heartbeat"
        public static let historyLimit = "history-limit"
        public static let duration = "duration"
    }

    public var name = "writer"
    /// Where the PUB socket binds, e.g. `tcp://127.0.0.1:5555` or `ipc:///tmp/x.pub`.
    public var publishEndpoint: String
    /// Where the snapshot service (ROUTER) binds.
    public var snapshotEndpoint: String
    /// The orchestrator's control endpoint; nil runs the writer on its own.
    public var controlEndpoint: String?
    /// Snapshots per second.
    public var rate: Double = 1000
    public var payloadBytes = 256
    public var seed: UInt64 = 1
    /// A JSON file of scripted FSM events (``EventScriptFile``); nil uses the seeded generator.
    public var scriptPath: String?
    /// Where the latest snapshot is persisted; nil disables persistence.
    public var stateDirectory: String?
    public var sendHighWaterMark = Int32(HighWaterMarks.default)
    /// libzmq I/O threads of the writer's context (they do the fan-out's TCP writes).
    public var ioThreads = 1
    /// Who writes the frames: libzmq's PUB, or the writer itself (``PublisherKind/direct``).
    public var publisher = PublisherKind.libzmq
    /// SO_SNDBUF of each connection; nil keeps the kernel's default.
    public var sendBufferBytes: Int32?
    public var noDrop = false
    /// When behind schedule (several snapshots due at one wake-up), publish only
    /// the newest of them, its frame saying how many it folded in (`coalesced`).
    public var coalesce = false
    /// Batching: several versions to a frame (`SNB1`) when more than one is
    /// waiting; nil sends one frame per version.
    public var batch: WriterBatching?
    public var heartbeatNanos: UInt64 = 1_000_000_000
    public var historyLimit = 16
    /// Standalone runs: stop after this long (nil: until SIGTERM or STOP).
    public var durationNanos: UInt64?
    /// Write metrics.json/.prom/latency.hgrm here at stop.
    public var metricsDirectory: String?
    /// Expected launcher pid: the node exits if it disappears.
    public var parentPID: Int32?
    /// CURVE on every socket, with these files; nil: plain sockets.
    public var curve: CurveFiles?
    /// The process's nice value (``ClusterProcess/Niceness``); nil leaves the launcher's.
    public var nice: Int?
    /// How the kernel schedules the process's threads.
    public var scheduling = SchedulingPolicy.normal

    public init(publishEndpoint: String, snapshotEndpoint: String) {
        self.publishEndpoint = publishEndpoint
        self.snapshotEndpoint = snapshotEndpoint
    }

    /// `writer --name … --pub …`: the flags that always matter, then those set away from their defaults.
    public var arguments: [String] {
        var c = NodeCommandLine(subcommand: "writer")
        c.option(Flag.name, name)
        c.option(Flag.pub, publishEndpoint)
        c.option(Flag.snapshots, snapshotEndpoint)
        c.option(Flag.rate, "\(rate)")
        c.option(Flag.payloadBytes, "\(payloadBytes)")
        c.option(Flag.seed, "\(seed)")
        c.option(Flag.sendHighWaterMark, "\(sendHighWaterMark)")
        c.option(Flag.heartbeat, durationArgument(heartbeatNanos))
        c.option(Flag.historyLimit, "\(historyLimit)")
        c.flag(Flag.noDrop, noDrop)
        c.flag(Flag.coalesce, coalesce)
        if let batch {
            c.option(Flag.batchMaxCount, "\(batch.maxCount)")
            if batch.maxDelayNanos > 0 { c.option(Flag.batchMaxDelay, durationArgument(batch.maxDelayNanos)) }
        }
        c.option(Flag.sendBuffer, sendBufferBytes)
        c.option(Flag.stateDirectory, stateDirectory)
        c.option(Flag.script, scriptPath)
        if ioThreads != 1 { c.option(Flag.ioThreads, "\(ioThreads)") }
        if publisher != .libzmq { c.option(Flag.publisher, publisher.rawValue) }
        c.option(Flag.duration, durationNanos.map(durationArgument))
        c.common(metricsDirectory: metricsDirectory, controlEndpoint: controlEndpoint, parentPID: parentPID, curve: curve, nice: nice, scheduling: scheduling)
        return c.arguments
    }
}

/// How a batching writer groups versions into frames.
///
/// A frame is sent when `maxCount` versions wait, or when the oldest has
/// waited as long as it may: at once when no frame went out in the last
/// `maxDelay` (so a writer that keeps up adds no delay), else when
/// `maxDelay` has passed since the last frame. So frames go out at most once
/// per `maxDelay` (unless full), and no version waits longer than `maxDelay`.
/// With `maxDelay` 0 only versions that are due together (a late wake-up) share a frame.
public struct WriterBatching: Sendable, Hashable {
    /// The most versions in one frame, ≥ 2.
    public var maxCount: Int
    /// The longest a version waits for others to share its frame.
    public var maxDelayNanos: UInt64

    /// The versions a frame holds at most by default.
    public static let defaultMaxCount = 64
    /// The largest `maxCount` accepted.
    public static let maxCountLimit = 4_096
    /// The largest `maxDelay` accepted: 1 s.
    public static let maxDelayLimitNanos: UInt64 = 1_000_000_000

    public init(maxCount: Int = WriterBatching.defaultMaxCount, maxDelayNanos: UInt64 = 0) {
        self.maxCount = maxCount
        self.maxDelayNanos = maxDelayNanos
    }
}

/// Reads an event script file: `[{"at": "2s", "event": "activate"}, …]`.
public enum EventScriptFile {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(path: String) throws -> [ScriptedEvent] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "\(path): cannot read the event script")
        }
        guard let items = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw LoadError(description: "\(path): expected a JSON array of {\"at\": DURATION, \"event\": NAME}")
        }
        return try items.enumerated().map { i, item in
            guard let at = item["at"] as? String, let t = try? TimeSpan(parsing: at) else {
                throw LoadError(description: "\(path): [\(i)].at: expected a duration string such as \"2s\"")
            }
            guard let name = item["event"] as? String, let e = FSMEvent(rawValue: name) else {
                throw LoadError(description: "\(path): [\(i)].event: expected one of \(FSMEvent.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return ScriptedEvent(atNanos: t.nanoseconds, event: e)
        }
    }

    /// The file's text for a topology's `writer.events`.
    public static func data(for events: [ScriptedEventSpec]) throws -> Data {
        try JSONSerialization.data(withJSONObject: events.map { ["at": $0.at.description, "event": $0.event] }, options: [.sortedKeys])
    }
}
