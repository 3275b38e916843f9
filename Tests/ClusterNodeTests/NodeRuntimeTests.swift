import ClusterCore
import ClusterProcess
import ClusterTestSupport
import Foundation
import Logging
import Synchronization
import Testing
import ZeroMQ

@testable import ClusterNode

/// The lifecycle every node shares, run with a node that has no sockets.
@Suite("node runtime", .serialized)
struct NodeRuntimeTests {
    /// A node that only waits, and records what the runtime asked of it.
    final class IdleNode: NodeProcess {
        struct Config {
            var duration: UInt64
            var metricsDirectory: String
            var origin: DurationOrigin
        }

        struct Record: Sendable {
            var measuringBegan = 0
            var works = 0
            var ticks = 0
            var reason = ""
        }

        static let record = Locked(Record())
        let config: Config

        static func settings(_ config: Config) -> NodeRuntime.Settings {
            NodeRuntime.Settings(name: "idle", role: .queryLoad, metricsDirectory: config.metricsDirectory,
                                 durationNanos: config.duration)
        }

        init(config: Config, runtime: NodeRuntime) { self.config = config }

        var durationOrigin: DurationOrigin { config.origin }
        var firstTickDelay: UInt64 { 50_000_000 }

        func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime) {
            Self.record.update { $0.measuringBegan += 1 }
        }

        func work(now: UInt64, _ runtime: NodeRuntime) {
            Self.record.update { $0.works += 1 }
        }

        func wait(now: UInt64, until deadline: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
            runtime.poll(timeout: .milliseconds(5)) > 0 ? .polled : .idle
        }

        func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime) {}

        func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary {
            Self.record.update { $0.ticks += 1 }
            return .empty
        }

        func fillStats(_ stats: inout Clustersim_V1_Stats) {}

        func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final {
            Self.record.update { $0.reason = reason }
            var counters: [String: UInt64] = [:]
            counters[.sent] = 3
            let recorder = LatencyRecorder()
            return NodeRuntime.Final(metrics: runtime.metrics(counters: counters, gauges: [:], recorder: recorder),
                                     histogram: recorder.total, message: "idle node stopped", summary: [:])
        }
    }

    @Test("alone, a node measures from the start of its loop and stops at its duration, with its dump written",
          arguments: [DurationOrigin.processStart, .measuredStart])
    func standaloneDuration(origin: DurationOrigin) async throws {
        IdleNode.record.update { $0 = .init() }
        let dir = NSTemporaryDirectory() + "runtime-\(UUID().uuidString.prefix(8))"
        let config = IdleNode.Config(duration: 200_000_000, metricsDirectory: dir, origin: origin)
        let started = SystemClock.monotonicNanos()
        let status = try await StartedThread { () -> Int32 in
            try NodeRuntime.run(IdleNode.self, config: config, logger: .init(label: "test"), signals: ShutdownSignals())
        }.value()
        let took = SystemClock.monotonicNanos() - started
        let record = IdleNode.record.value
        #expect(status == 0)
        #expect(record.reason == "duration reached")
        #expect(record.measuringBegan == 1)
        #expect(record.works > 1)
        #expect(record.ticks >= 1)   // the first after 50 ms
        #expect(took >= 200_000_000)
        let metrics = try NodeMetrics.decode(json: String(contentsOfFile: dir + "/metrics.json", encoding: .utf8))
        #expect(metrics.node == "idle")
        #expect(metrics.role == .queryLoad)
        #expect(metrics.counters["sent"] == 3)
    }
}

/// A value behind a lock, for the record a node keeps across threads.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

/// A node's last words: FINAL and BYE, then a bounded wait for the orchestrator's Farewell.
@Suite("farewell")
struct FarewellTests {
    /// A ROUTER standing in for the control plane, used by one thread at a time.
    final class Router: @unchecked Sendable {
        let socket: Socket
        init(_ context: Context) throws {
            socket = try context.socket(.router)
            try socket.setLinger(.zero)
            try socket.bind("tcp://127.0.0.1:*")
        }

        /// The next message, within 5 s.
        func next() throws -> (identity: [UInt8], body: Clustersim_V1_ControlMessage.OneOf_Body?)? {
            guard let frames = try socket.receiveMultipart(timeout: .seconds(5)), frames.count == 2 else { return nil }
            return (frames[0].bytes, try Clustersim_V1_ControlMessage(serializedBytes: frames[1].bytes).body)
        }
    }

    static let metrics = NodeMetrics(node: "cli-1", role: .reader(.cli), incarnation: 1, startedWallNs: 1)

    @Test("finish returns once the orchestrator answers BYE, which came after the FINAL")
    func answered() throws {
        let context = try Context()
        let router = try Router(context)
        let client = try ControlClient(context: context, endpoint: try router.socket.lastEndpoint, node: "cli-1", logger: Logger(label: "test"))
        let seen = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            while let (identity, body) = try? router.next() {
                switch body {
                case .final: seen.withLock { $0.append("final") }
                case .bye:
                    seen.withLock { $0.append("bye") }
                    var m = Clustersim_V1_ControlMessage()
                    m.body = .farewell(Clustersim_V1_Farewell())
                    _ = try? router.socket.sendMultipart([identity, try m.serializedBytes()])
                    return
                default: continue
                }
            }
        }
        thread.start()
        let start = ContinuousClock.now
        let said = client.finish(metrics: Self.metrics, histogram: LatencyHistogram(), reason: "test", farewellWait: .seconds(10))
        #expect(said && ContinuousClock.now - start < .seconds(8))
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.withLock { $0 } == ["final", "bye"])
    }

    @Test("without an answer finish gives up after its wait")
    func unanswered() throws {
        let context = try Context()
        let router = try Router(context)
        let client = try ControlClient(context: context, endpoint: try router.socket.lastEndpoint, node: "cli-1", logger: Logger(label: "test"))
        let start = ContinuousClock.now
        let said = client.finish(metrics: Self.metrics, histogram: LatencyHistogram(), reason: "test", farewellWait: .milliseconds(300))
        let waited = ContinuousClock.now - start
        #expect(!said && waited >= .milliseconds(300) && waited < .seconds(10), "\(waited)")
        let first = try router.next()?.body
        guard case .final? = first else { Issue.record("the FINAL was not sent: \(String(describing: first))"); return }
    }
}
