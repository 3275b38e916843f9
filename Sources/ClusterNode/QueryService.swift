import ClusterCore
import ClusterProcess
import Foundation
import Logging
import SwiftProtobuf
import Synchronization
import ZeroMQ

/// The query role's request/reply service: a ROUTER served by a bounded
/// pool of worker threads — the gRPC-like part of a reader.
///
/// The reader's loop owns the ROUTER. A request is handed to a worker only
/// when one is free; otherwise it is answered `BUSY` at once (the 429 of
/// this protocol), so the queue can never grow without bound. Workers
/// answer through their own PUSH sockets to a PULL the loop polls, and the
/// loop routes each reply back. The shared state workers read (the latest
/// snapshot and a bounded history of recent ones) sits behind a `Mutex`.
final class QueryService {
    struct Stats {
        var served: UInt64 = 0
        var busy: UInt64 = 0
        var notAvailable: UInt64 = 0
        var badRequests: UInt64 = 0
        var serviceLatency = LatencyHistogram.latency()
    }

    struct Job: Sendable {
        let identity: [UInt8]
        let request: [UInt8]
        let receivedMono: UInt64
    }

    struct Shared: ~Copyable {
        var history: SnapshotHistory
        var metricsJSON = "{}"
        var jobs: [Job] = []
        var stopping = false
    }

    let endpoint: String
    let workers: Int
    private let router: Socket
    private let replies: Socket
    private let shared: SharedBox
    private var inFlight = 0
    private var pendingStart: [UInt64] = []
    private var counters = Stats()
    private var threads: [Thread] = []
    private let routerWatch: ConnectionWatch
    let logger: Logger

    final class SharedBox: Sendable {
        let state: Mutex<Shared>
        let wake = DispatchSemaphore(value: 0)

        init(history: SnapshotHistory) {
            state = Mutex(Shared(history: history))
        }
    }

    /// Binds the ROUTER and starts the workers. The ROUTER takes requests
    /// only (a larger message drops its peer) and keeps at most 16 MiB of
    /// replies of `maxReplyBytes` queued for one client; the history keeps
    /// `historySize` versions within 64 MiB.
    init(context: Context, endpoint requested: String, workers: Int, historySize: Int, serviceDelayNanos: UInt64,
         maxReplyBytes: Int, guards: ConnectionGuards, logger: Logger, security: NodeSecurity? = nil) throws {
        self.workers = max(1, workers)
        self.logger = logger
        router = try context.socket(.router)
        try router.setLinger(.zero)
        try router.setMaxMessageSize(Int64(MessageLimits.requestBytes))
        try router.setSendHighWaterMark(MessageLimits.highWaterMark(messages: 1_000, frameBytes: maxReplyBytes,
                                                                    budget: MessageLimits.clientRepliesBytes))
        routerWatch = try guards.bound(router, security: security, label: "query")
        try router.bind(requested)
        endpoint = (try? router.lastEndpoint) ?? requested
        replies = try context.socket(.pull)
        try replies.setLinger(.zero)
        let inproc = "inproc://query-replies-\(UInt64.random(in: 0...UInt64.max))"
        try replies.bind(inproc)
        let box = SharedBox(history: SnapshotHistory(capacity: historySize, budget: MessageLimits.queryHistoryBytes))
        shared = box
        for i in 0..<self.workers {
            let push = try context.socket(.push)
            try push.setLinger(.zero)
            try push.connect(inproc)
            let worker = Worker(push: push, shared: box, serviceDelayNanos: serviceDelayNanos)
            let t = Thread { worker.loop() }
            t.name = "query-worker-\(i)"
            t.start()
            threads.append(t)
        }
    }

    /// Keeps the latest snapshot and a bounded history for `GetVersion`.
    func update(version: UInt64, epoch: UInt64, encodedSnapshot: [UInt8]) {
        shared.state.withLock { $0.history.append(version: version, epoch: epoch, bytes: encodedSnapshot) }
    }

    /// Counts the connections to the ROUTER that ended (once a tick).
    func checkConnections() {
        routerWatch.check(router)
    }

    func publishMetrics(_ json: String) {
        shared.state.withLock { $0.metricsJSON = json }
    }

    func register(in poller: inout Poller) -> (router: Int, replies: Int) {
        (poller.add(router), poller.add(replies))
    }

    /// Serves what the poll found ready: new requests and finished replies.
    func service(poller: Poller, indices: (router: Int, replies: Int)) {
        if poller.events(at: indices.replies).contains(.readable) {
            while let frames = try? replies.receiveMultipart(dontWait: true), frames.count == 3 {
                let identity = frames[0].bytes
                let reply = frames[1].bytes
                let meta = frames[2].bytes
                _ = try? router.sendMultipart([identity, reply], dontWait: true)
                inFlight -= 1
                if meta.count >= 9 {
                    let start = meta.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    _ = counters.serviceLatency.record(min(SystemClock.monotonicNanos() - start, 60_000_000_000))
                    switch meta[8] {
                    case 0: counters.served += 1
                    case 2: counters.served += 1; counters.notAvailable += 1
                    default: counters.badRequests += 1
                    }
                }
            }
        }
        if poller.events(at: indices.router).contains(.readable) {
            for _ in 0..<256 {
                guard let frames = try? router.receiveMultipart(dontWait: true) else { break }
                guard frames.count >= 2 else { continue }
                let identity = frames[0].bytes
                let body = frames[frames.count - 1].bytes
                let now = SystemClock.monotonicNanos()
                if inFlight >= workers {
                    counters.busy += 1
                    var r = Clustersim_V1_QueryReply()
                    r.requestID = (try? Clustersim_V1_QueryRequest(serializedBytes: body))?.requestID ?? 0
                    r.status = .busy
                    r.message = "all \(workers) workers busy"
                    if let bytes: [UInt8] = try? r.serializedBytes() {
                        _ = try? router.sendMultipart([identity, bytes], dontWait: true)
                    }
                    continue
                }
                inFlight += 1
                let job = Job(identity: identity, request: body, receivedMono: now)
                shared.state.withLock { $0.jobs.append(job) }
                shared.wake.signal()
            }
        }
    }

    func stats() -> Stats { counters }

    func shutdown() {
        shared.state.withLock { $0.stopping = true }
        for _ in threads { shared.wake.signal() }
    }

    /// One worker thread: takes a job, builds the reply, pushes it back.
    final class Worker: @unchecked Sendable {
        let push: Socket
        let shared: SharedBox
        let serviceDelayNanos: UInt64

        init(push: consuming Socket, shared: SharedBox, serviceDelayNanos: UInt64) {
            self.push = push
            self.shared = shared
            self.serviceDelayNanos = serviceDelayNanos
        }

        func loop() {
            while true {
                shared.wake.wait()
                let job: Job? = shared.state.withLock { s in
                    if s.stopping { return nil }
                    return s.jobs.isEmpty ? nil : s.jobs.removeFirst()
                }
                guard let job else {
                    if shared.state.withLock({ $0.stopping }) { return }
                    continue
                }
                if serviceDelayNanos > 0 { sleepNanos(serviceDelayNanos) }
                let (reply, status) = answer(job.request)
                var meta = withUnsafeBytes(of: job.receivedMono) { Array($0) }
                meta.append(status)
                _ = try? push.sendMultipart([job.identity, reply, meta])
            }
        }

        func answer(_ body: [UInt8]) -> ([UInt8], UInt8) {
            var r = Clustersim_V1_QueryReply()
            var code: UInt8 = 0
            guard let req = try? Clustersim_V1_QueryRequest(serializedBytes: body) else {
                r.status = .badRequest
                r.message = "request is not a QueryRequest"
                return ((try? r.serializedBytes()) ?? [], 4)
            }
            r.requestID = req.requestID
            let snapshot = shared.state.withLock { s -> (entry: (UInt64, UInt64, [UInt8])?, oldest: UInt64, newest: UInt64, metrics: String, found: [UInt8]?) in
                let latest = s.history.latest
                var found: [UInt8]? = nil
                if case .getVersion(let g) = req.kind { found = s.history.find(version: g.version) }
                return (latest.map { ($0.version, $0.epoch, $0.bytes) }, s.history.oldestVersion, latest?.version ?? 0, s.metricsJSON, found)
            }
            r.oldestVersion = snapshot.oldest
            r.newestVersion = snapshot.newest
            switch req.kind {
            case .getLatest:
                if let e = snapshot.entry, let s = try? Clustersim_V1_Snapshot(serializedBytes: e.2) {
                    r.snapshot = s
                    r.status = .ok
                } else { r.status = .notReady; r.message = "no snapshot received yet"; code = 3 }
            case .getVersion(let g):
                if let bytes = snapshot.found, let s = try? Clustersim_V1_Snapshot(serializedBytes: bytes) {
                    r.snapshot = s
                    r.status = .ok
                } else {
                    r.status = .notAvailable
                    r.message = "version \(g.version) not available: kept \(snapshot.oldest)...\(snapshot.newest)"
                    code = 2
                }
            case .health:
                r.status = .ok
                r.health = snapshot.entry == nil ? "not-ready" : "ok"
            case .metrics:
                r.status = .ok
                r.metricsJson = snapshot.metrics
            case nil:
                r.status = .badRequest
                r.message = "request names no operation"
                code = 4
            }
            return ((try? r.serializedBytes()) ?? [], code)
        }
    }
}
