import ClusterCore
import Foundation

/// A per-message processing delay that makes a reader slow on purpose.
public enum DelayModel: Sendable, Hashable {
    case fixed(nanos: UInt64)
    case uniform(minNanos: UInt64, maxNanos: UInt64)
    case exponential(meanNanos: UInt64)

    /// The next delay, drawn from `rng` (seeded, so runs repeat).
    public func next(_ rng: inout SeededRandom) -> UInt64 {
        switch self {
        case .fixed(let n): return n
        case .uniform(let lo, let hi): return hi > lo ? lo + rng.below(hi - lo + 1) : lo
        case .exponential(let mean):
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            return UInt64(-log(max(1 - u, 1e-12)) * Double(mean))
        }
    }

    /// Parses `"2ms"`, `"uniform:1ms:3ms"`, `"exponential:2ms"` (the command-line form).
    public init?(argument: String, parse: (String) -> UInt64?) {
        let parts = argument.split(separator: ":").map(String.init)
        switch parts.count {
        case 1: guard let n = parse(parts[0]) else { return nil }; self = .fixed(nanos: n)
        case 2 where parts[0] == "exponential": guard let m = parse(parts[1]) else { return nil }; self = .exponential(meanNanos: m)
        case 3 where parts[0] == "uniform":
            guard let a = parse(parts[1]), let b = parse(parts[2]), a <= b else { return nil }
            self = .uniform(minNanos: a, maxNanos: b)
        default: return nil
        }
    }

    /// The command-line form.
    public var argument: String {
        switch self {
        case .fixed(let n): return "\(n)ns"
        case .uniform(let a, let b): return "uniform:\(a)ns:\(b)ns"
        case .exponential(let m): return "exponential:\(m)ns"
        }
    }
}

/// Which clock latency is measured on.
public enum LatencyClock: String, Sendable, Hashable, CaseIterable {
    /// CLOCK_MONOTONIC: nodes on one host.
    case monotonic
    /// CLOCK_REALTIME plus an offset: nodes on different hosts.
    case wall
}

/// Everything a reader node needs, filled by `cluster-node reader`.
public struct ReaderConfig: Sendable {
    public var name: String
    public var role: ReaderRole = .cli
    /// The writer's (or a relay's) PUB endpoint.
    public var publishEndpoint: String
    /// The writer's snapshot service.
    public var snapshotEndpoint: String
    public var controlEndpoint: String?
    public var policy: SlowPolicy = .drop
    public var receiveHighWaterMark: Int32 = 100_000
    public var receiveBufferBytes: Int32?
    public var processingDelay: DelayModel?
    /// snail: lag beyond this disconnects and resyncs.
    public var lagLimitNanos: UInt64 = 500_000_000
    public var seed: UInt64 = 1
    /// log: the JSON Lines file.
    public var logPath: String?
    public var logFlushEvery = 256
    /// query: where the request/reply service binds.
    public var serviceEndpoint: String?
    public var workers = 4
    public var historySize = 256
    /// query: simulated work per request.
    public var serviceDelayNanos: UInt64 = 0
    public var metricsDirectory: String?
    public var parentPID: Int32?
    /// After STOP, keep reading this long for the tail (until END is seen).
    public var drainNanos: UInt64 = 2_000_000_000
    public var clock: LatencyClock = .monotonic
    /// Added to this node's wall clock to put it on the writer's.
    public var clockOffsetNanos: Int64 = 0
    /// Whether `clockOffsetNanos` was given; otherwise the orchestrator's estimate (sent with START) is used.
    public var clockOffsetGiven = false
    /// Standalone runs: stop after this long.
    public var durationNanos: UInt64?
    /// The CPU to pin the process to (its thread and libzmq's); nil leaves it to the scheduler.
    public var cpu: Int?

    public init(name: String, publishEndpoint: String, snapshotEndpoint: String) {
        self.name = name
        self.publishEndpoint = publishEndpoint
        self.snapshotEndpoint = snapshotEndpoint
    }
}
