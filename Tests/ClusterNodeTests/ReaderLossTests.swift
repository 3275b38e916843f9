import ClusterCore
import ClusterProcess
import ClusterTestSupport
import Foundation
import SwiftProtobuf
import Testing
import ZeroMQ
@testable import ClusterNode

/// A reader against a scripted writer: the test publishes exactly the
/// versions it chooses, so every loss figure is known in advance.
@Suite("reader loss accounting", .serialized)
struct ReaderLossTests {
    /// Publishes frames as the writer would; waits until the reader's subscription arrived (XPUB).
    final class FakeWriter: @unchecked Sendable {
        let context = try! Context()
        let pub: Socket
        let endpoint: String
        let service: Socket
        let serviceEndpoint: String
        let epoch: UInt64 = 7
        var builder = SnapshotFrameBuilder()
        var current: Snapshot

        init() throws {
            pub = try context.socket(.xpub)
            try pub.setLinger(.zero)
            try pub.setSendHighWaterMark(0)
            try pub.bind("tcp://127.0.0.1:*")
            endpoint = try pub.lastEndpoint
            service = try context.socket(.router)
            try service.setLinger(.zero)
            try service.bind("tcp://127.0.0.1:*")
            serviceEndpoint = try service.lastEndpoint
            current = Snapshot.initial(epoch: epoch, fsmInstanceID: "fsm-test", sourceModule: "test", historyLimit: 4,
                                       contextData: Data(repeating: 1, count: 64))
        }

        /// Waits for the SNP1 subscription (bounded).
        func awaitSubscriber() throws -> Bool {
            let deadline = SystemClock.monotonicNanos() + 5_000_000_000
            while SystemClock.monotonicNanos() < deadline {
                if let m = try pub.receive(timeout: .milliseconds(100)), m.bytes.first == 1, Array(m.bytes.dropFirst()) == FrameKind.snapshot.prefix {
                    return true
                }
            }
            return false
        }

        func snapshot(_ v: UInt64) -> Snapshot {
            Snapshot(version: v, epoch: epoch, state: .active, prevState: .idle, reason: "test", snapshotID: "\(epoch)-\(v)",
                     fsmInstanceID: "fsm-test", sourceModule: "test", attemptCount: 0, monotonicNanos: SystemClock.monotonicNanos(),
                     wallNanos: SystemClock.wallNanos(), history: [], contextData: Data(repeating: 2, count: 64))
        }

        func publish(_ v: UInt64) throws { try publish(v, epoch: epoch) }

        /// Publishes version `v` of epoch `e` (another epoch: a restarted writer's).
        func publish(_ v: UInt64, epoch e: UInt64) throws {
            let s = snapshot(v)
            current = s
            builder.begin(encodedSnapshot: s.encoded(), epoch: e, version: v)
            _ = try builder.stampAndSend { try pub.send($0) }
        }

        /// Sends `versions` in one batch frame (SNB1), each made now.
        func publishBatch(_ versions: [UInt64]) throws {
            var b = BatchFrameBuilder()
            b.begin(epoch: epoch)
            for v in versions {
                let s = snapshot(v)
                current = s
                b.append(encodedSnapshot: s.encoded(), version: v, madeMonotonicNanos: s.monotonicNanos, madeWallNanos: s.wallNanos)
            }
            _ = try b.stampAndSend { try pub.send($0) }
        }

        /// Answers snapshot requests with `current` until one came, or `seconds` passed.
        func answerOne(within seconds: Double = 3) throws -> Bool {
            let deadline = SystemClock.monotonicNanos() + UInt64(seconds * 1e9)
            while SystemClock.monotonicNanos() < deadline {
                guard let frames = try service.receiveMultipart(timeout: .milliseconds(50)) else { continue }
                let req = try Clustersim_V1_SnapshotRequest(serializedBytes: frames.last!.bytes)
                var reply = Clustersim_V1_SnapshotReply()
                reply.requestID = req.requestID
                reply.epoch = epoch
                reply.version = current.version
                reply.snapshot = current.proto
                try service.sendMultipart([frames[0].bytes, try reply.serializedBytes()])
                return true
            }
            return false
        }

        func heartbeat(_ v: UInt64) throws { try pub.send(FrameCodec.heartbeat(epoch: epoch, version: v, sequence: 1)) }
        func end(_ v: UInt64) throws { try pub.send(FrameCodec.endOfStream(epoch: epoch, finalVersion: v, published: v)) }

        /// Answers pending snapshot requests with `current`.
        func serve() throws {
            while let frames = try service.receiveMultipart(dontWait: true) {
                let req = try Clustersim_V1_SnapshotRequest(serializedBytes: frames.last!.bytes)
                var reply = Clustersim_V1_SnapshotReply()
                reply.requestID = req.requestID
                reply.epoch = epoch
                reply.version = current.version
                reply.snapshot = current.proto
                try service.sendMultipart([frames[0].bytes, try reply.serializedBytes()])
            }
        }
    }

    /// Runs a reader in a thread of this process while `body` plays the
    /// writer (off the cooperative pool); returns what `body` returned and the
    /// reader's metrics.json.
    func runReader<T: Sendable>(_ config: ReaderConfig, while body: @escaping @Sendable () throws -> T) async throws -> (T, NodeMetrics) {
        let reader = StartedThread { () -> Int32 in
            let signals = ShutdownSignals()
            return try Node.run(config, logger: .init(label: "test"), signals: signals)
        }
        let value = try await offPool(body)
        _ = try await reader.value()
        let text = try String(contentsOfFile: config.metricsDirectory! + "/metrics.json", encoding: .utf8)
        return (value, try NodeMetrics.decode(json: text))
    }

    func config(_ w: FakeWriter, _ tag: String, duration: UInt64) -> ReaderConfig {
        var c = ReaderConfig(name: "r-\(tag)", publishEndpoint: w.endpoint, snapshotEndpoint: w.serviceEndpoint)
        c.durationNanos = duration
        c.metricsDirectory = NSTemporaryDirectory() + "reader-\(tag)-\(UUID().uuidString.prefix(8))"
        return c
    }

    @Test("withheld versions are counted exactly: gaps and tail")
    func exactLoss() async throws {
        let w = try FakeWriter()
        let withheld: Set<UInt64> = [10, 20, 21, 22, 23, 24, 60]
        let (subscribed, m) = try await runReader(config(w, "exact", duration: 2_000_000_000)) {
            guard try w.awaitSubscriber() else { return false }
            try w.heartbeat(0)
            for v in UInt64(1)...100 where !withheld.contains(v) {
                try w.publish(v)
            }
            // 101...103 are never sent: the tail, known from END.
            try w.end(103)
            return true
        }
        #expect(subscribed)
        #expect(m.counters["received"] == 93)
        #expect(m.counters["gaps"] == 3)
        #expect(m.counters["lost_in_gaps"] == 7)
        #expect(m.counters["lost_tail"] == 3)
        #expect(m.counters["lost"] == 10)
        #expect(m.counters["decode_errors"] == 0)
        #expect(m.latency.count == 93)
    }

    @Test("a writer restarted under a new epoch: the versions it published before the reader's first are lost at the epoch's start")
    func epochStart() async throws {
        let w = try FakeWriter()
        let (subscribed, m) = try await runReader(config(w, "epoch-start", duration: 2_000_000_000)) {
            guard try w.awaitSubscriber() else { return false }
            for v in UInt64(1)...10 { try w.publish(v) }
            // The restarted writer began epoch 8 at version 11; the reader saw it from 15.
            try w.pub.send(FrameCodec.heartbeat(epoch: 8, version: 14, sequence: 1, epochFirstVersion: 11))
            for v in UInt64(15)...20 { try w.publish(v, epoch: 8) }
            try w.pub.send(FrameCodec.endOfStream(epoch: 8, finalVersion: 22, published: 12, epochFirstVersion: 11))
            return true
        }
        #expect(subscribed)
        #expect(m.counters["epoch_changes"] == 1)
        #expect(m.counters["lost_at_epoch_start"] == 4)
        #expect(m.counters["lost_tail"] == 2)
        #expect(m.counters["lost"] == 6)
    }

    @Test("an epoch two days ahead of the reader's clock is discarded as implausible and fences nothing")
    func epochFromTheFuture() async throws {
        let w = try FakeWriter()
        let future = SystemClock.wallNanos() / 1_000 + 2 * 86_400_000_000
        let (subscribed, m) = try await runReader(config(w, "future-epoch", duration: 2_000_000_000)) {
            guard try w.awaitSubscriber() else { return false }
            try w.publish(1)
            try w.publish(2, epoch: future)
            for v in UInt64(2)...10 { try w.publish(v) }
            try w.end(10)
            return true
        }
        #expect(subscribed)
        #expect(m.counters["implausible_discarded"] == 1)
        #expect(m.counters["applied"] == 10 && m.counters["old_epoch_discarded"] == 0 && m.counters["lost"] == 0, "\(m.counters)")
    }

    @Test("malformed frames are counted, never fatal")
    func malformed() async throws {
        let w = try FakeWriter()
        let (subscribed, m) = try await runReader(config(w, "malformed", duration: 1_500_000_000)) {
            guard try w.awaitSubscriber() else { return false }
            try w.publish(1)
            try w.pub.send(FrameKind.snapshot.prefix + [0xFF, 0xFF, 0xFF])       // truncated varint
            try w.pub.send(FrameKind.snapshot.prefix + [0x2A, 0x10, 0x01])       // field 5 longer than the frame
            try w.pub.send(Array("SNP1".utf8))                                    // empty envelope is valid
            try w.publish(2)
            return true
        }
        #expect(subscribed)
        #expect(m.counters["decode_errors"] == 2)
        #expect((m.counters["received"] ?? 0) >= 2)
        #expect(m.counters["lost"] == 0)
    }

    @Test("late join: the reader converges on the snapshot service's answer and discards what it covers")
    func lateJoin() async throws {
        let w = try FakeWriter()
        for v in UInt64(1)...50 { w.current = w.snapshot(v) }   // the writer is at 50 before the reader exists
        var c = config(w, "late", duration: 2_000_000_000)
        c.role = .log
        c.logPath = c.metricsDirectory! + "/snapshots.jsonl"
        let (answered, m) = try await runReader(c) {
            guard try w.awaitSubscriber() else { return false }
            // Heartbeats until the reader asks, then answer with version 50.
            let deadline = SystemClock.monotonicNanos() + 3_000_000_000
            var answered = false
            while !answered, SystemClock.monotonicNanos() < deadline {
                try w.heartbeat(50)
                if let frames = try w.service.receiveMultipart(timeout: .milliseconds(50)) {
                    let req = try Clustersim_V1_SnapshotRequest(serializedBytes: frames.last!.bytes)
                    var reply = Clustersim_V1_SnapshotReply()
                    reply.requestID = req.requestID
                    reply.epoch = w.epoch
                    reply.version = 50
                    reply.snapshot = w.current.proto
                    try w.service.sendMultipart([frames[0].bytes, try reply.serializedBytes()])
                    answered = true
                }
            }
            guard answered else { return false }
            usleep(100_000)
            for v in UInt64(49)...60 { try w.publish(v) }   // 49 and 50 are already covered
            try w.end(60)
            return true
        }
        #expect(answered)
        #expect(m.counters["stale_discarded"] == 2)
        #expect(m.counters["lost"] == 0)
        #expect(m.counters["snapshots_applied"] == 1)
        let start = try #require(m.converge.first { $0.trigger == .start })
        #expect(start.version == 50)
        // The log holds the snapshot first, then every later update, with no gap.
        let lines = try String(contentsOfFile: c.logPath!, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.first?["via"] as? String == "snapshot")
        #expect(lines.compactMap { ($0["version"] as? NSNumber)?.intValue } == Array(50...60))
    }

    @Test("the late-join order of docs/protocol.md §4: ask on the first frame, hold updates until the answer, discard what it covers")
    func lateJoinOrder() async throws {
        let w = try FakeWriter()
        for v in UInt64(1)...50 { w.current = w.snapshot(v) }
        let c = config(w, "order", duration: 2_000_000_000)
        let (steps, m) = try await runReader(c) { () -> [String] in
            var steps: [String] = []
            guard try w.awaitSubscriber() else { return ["no subscriber"] }
            // No heartbeat at all: the first update must be what makes the reader ask.
            try w.publish(51)
            guard let request = try w.service.receiveMultipart(timeout: .seconds(3)) else { return ["no request after an update"] }
            steps.append("asked after 51")
            // Updates that come before the answer are held, then replayed after it.
            try w.publish(52)
            try w.publish(53)
            usleep(100_000)
            let req = try Clustersim_V1_SnapshotRequest(serializedBytes: request.last!.bytes)
            var reply = Clustersim_V1_SnapshotReply()
            reply.requestID = req.requestID
            reply.epoch = w.epoch
            reply.version = 53
            reply.snapshot = w.snapshot(53).proto
            try w.service.sendMultipart([request[0].bytes, try reply.serializedBytes()])
            steps.append("answered 53")
            usleep(100_000)
            for v in UInt64(54)...60 { try w.publish(v) }
            try w.end(60)
            return steps
        }
        #expect(steps == ["asked after 51", "answered 53"])
        // 51, 52 and 53 were held and are covered by the snapshot: stale. 54 ... 60 are applied.
        #expect(m.counters["received"] == 10)
        #expect(m.counters["stale_discarded"] == 3)
        #expect(m.counters["applied"] == 7)
        #expect(m.counters["snapshots_applied"] == 1)
        #expect(m.counters["gaps"] == 0 && m.counters["lost"] == 0 && m.counters["skipped"] == 0, "\(m.counters)")
    }

    /// The versions a log file holds, in order.
    static func loggedVersions(_ path: String) throws -> (versions: [Int], via: [String]) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "snapshot" }
        return (lines.compactMap { ($0["version"] as? NSNumber)?.intValue }, lines.compactMap { $0["via"] as? String })
    }

    @Test("batches: versions withheld inside a batch and whole batches withheld are counted exactly")
    func exactLossInBatches() async throws {
        let w = try FakeWriter()
        var c = config(w, "batch-exact", duration: 2_000_000_000)
        c.role = .log
        c.logPath = c.metricsDirectory! + "/snapshots.jsonl"
        let (subscribed, m) = try await runReader(c) {
            guard try w.awaitSubscriber() else { return false }
            try w.heartbeat(0)
            try w.publishBatch([1, 2, 3, 4, 5])
            try w.publishBatch([6, 7, 9, 10])          // 8 withheld inside a batch
            // [11 ... 15], a whole batch, is never sent.
            try w.publishBatch([16, 17, 18, 19, 20])
            try w.publish(21)                           // a lone version between batches
            try w.publishBatch([22, 23, 24, 25])
            try w.end(27)                               // 26 and 27: the tail
            return true
        }
        #expect(subscribed)
        #expect(m.counters["received"] == 19)
        #expect(m.counters["gaps"] == 2)
        #expect(m.counters["lost_in_gaps"] == 6)
        #expect(m.counters["lost_tail"] == 2)
        #expect(m.counters["lost"] == 8)
        #expect(m.counters["skipped"] == 0)
        #expect(m.counters["batch_frames"] == 4)
        #expect(m.counters["batched_versions"] == 18)
        #expect(m.counters["decode_errors"] == 0)
        #expect(m.latency.count == 19)
        #expect(m.latencies["batch_transport"]?.count == 4)
        // The log holds every version received, each once, in order.
        let logged = try Self.loggedVersions(c.logPath!)
        #expect(logged.versions == [1, 2, 3, 4, 5, 6, 7, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
    }

    @Test("batches: a late joiner discards the versions of a batch its snapshot covers and logs every later one")
    func lateJoinWithBatches() async throws {
        let w = try FakeWriter()
        for v in UInt64(1)...50 { w.current = w.snapshot(v) }
        var c = config(w, "batch-late", duration: 2_000_000_000)
        c.role = .log
        c.logPath = c.metricsDirectory! + "/snapshots.jsonl"
        let (answered, m) = try await runReader(c) {
            guard try w.awaitSubscriber() else { return false }
            try w.heartbeat(50)
            guard try w.answerOne() else { return false }
            usleep(100_000)
            try w.publishBatch([47, 48, 49, 50, 51, 52])   // 47 ... 50 are covered by the snapshot
            try w.publishBatch([53, 54, 55, 56, 57, 58, 59, 60])
            try w.end(60)
            return true
        }
        #expect(answered)
        #expect(m.counters["stale_discarded"] == 4)
        #expect(m.counters["lost"] == 0)
        #expect(m.counters["received"] == 14)
        #expect(m.counters["snapshots_applied"] == 1)
        let logged = try Self.loggedVersions(c.logPath!)
        #expect(logged.versions == Array(50...60))
        #expect(logged.via.first == "snapshot")
    }

    @Test("batches: a resync reader asks for a snapshot at a gap between batches and goes on from it")
    func resyncWithBatches() async throws {
        let w = try FakeWriter()
        var c = config(w, "batch-resync", duration: 2_500_000_000)
        c.policy = .resync
        let (answered, m) = try await runReader(c) {
            guard try w.awaitSubscriber() else { return false }
            try w.heartbeat(0)
            guard try w.answerOne() else { return false }     // the start snapshot: version 1
            usleep(100_000)
            try w.publishBatch([1, 2, 3, 4, 5])               // 1 is covered by the start snapshot
            for v in UInt64(6)...10 { w.current = w.snapshot(v) }   // made, never sent
            try w.publishBatch([11, 12, 13])                  // the gap: 6 ... 10
            guard try w.answerOne() else { return false }      // the resync: the writer is at 13
            usleep(100_000)
            try w.publishBatch([12, 13, 14, 15])              // 12 and 13 are stale after the snapshot
            try w.end(15)
            return true
        }
        #expect(answered)
        #expect(m.counters["gaps"] == 1)
        #expect(m.counters["lost"] == 5)
        #expect(m.counters["resyncs"] == 1)
        #expect(m.counters["stale_discarded"] == 3)
        #expect(m.counters["received"] == 12)
        #expect(m.converge.contains { $0.trigger == .gap && $0.version == 13 })
    }
}
