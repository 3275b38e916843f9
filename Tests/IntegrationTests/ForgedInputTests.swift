import ClusterCore
import ClusterTestSupport
import Foundation
import Testing
import ZeroMQ

/// Inputs no honest peer sends, against real `cluster-node` processes: a
/// reader must survive any frame, a writer any saved state.
@Suite("forged frames and saved state", .serialized)
struct ForgedInputTests {
    /// A publisher that sends exactly the frames a test chooses.
    final class Publisher: @unchecked Sendable {
        let context = try! Context()
        let pub: Socket
        let service: Socket
        let endpoint: String
        let serviceEndpoint: String
        var builder = SnapshotFrameBuilder()
        /// The last real snapshot published, for the snapshot service.
        var current: Snapshot?

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
        }

        /// Waits (bounded) until a subscriber to snapshot frames is connected.
        func awaitSubscriber() throws -> Bool {
            let deadline = SystemClock.monotonicNanos() + 10_000_000_000
            while SystemClock.monotonicNanos() < deadline {
                if let m = try pub.receive(timeout: .milliseconds(100)), m.bytes.first == 1,
                   Array(m.bytes.dropFirst()) == FrameKind.snapshot.prefix { return true }
            }
            return false
        }

        func publish(epoch: UInt64, version: UInt64) throws {
            let s = Snapshot(version: version, epoch: epoch, state: .active, prevState: .idle, reason: "test",
                             snapshotID: "\(epoch)-\(version)", fsmInstanceID: "fsm-test", sourceModule: "test", attemptCount: 0,
                             monotonicNanos: SystemClock.monotonicNanos(), wallNanos: SystemClock.wallNanos(), history: [],
                             contextData: Data(repeating: 3, count: 32))
            builder.begin(encodedSnapshot: s.encoded(), epoch: epoch, version: version)
            _ = try builder.stampAndSend { try pub.send($0) }
            if version < VersionTracker.plausibleLimit, epoch < VersionTracker.plausibleLimit { current = s }
            try serve()
        }

        /// Answers pending snapshot requests (the Clone pattern's start) with the last real snapshot.
        func serve() throws {
            guard let s = current else { return }
            while let frames = try service.receiveMultipart(dontWait: true) {
                let req = try Clustersim_V1_SnapshotRequest(serializedBytes: frames.last!.bytes)
                var reply = Clustersim_V1_SnapshotReply()
                reply.requestID = req.requestID
                reply.epoch = s.epoch
                reply.version = s.version
                reply.snapshot = s.proto
                try service.sendMultipart([frames[0].bytes, try reply.serializedBytes()])
            }
        }

        func heartbeat(epoch: UInt64, version: UInt64) throws {
            try pub.send(FrameCodec.heartbeat(epoch: epoch, version: version, sequence: 1))
        }

        func end(epoch: UInt64, version: UInt64) throws {
            try pub.send(FrameCodec.endOfStream(epoch: epoch, finalVersion: version, published: version))
        }
    }

    @Test("versions and epochs of 2^64−1 among real frames: every role survives, counts them, and loses nothing real",
          arguments: ["cli", "log", "query"])
    func overflowingFrames(role: String) async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let p = try Publisher()
        let dir = Harness.tempDirectory("forged-\(role)")
        var args = ["reader", "--name", "r-\(role)", "--role", role, "--pub", p.endpoint, "--snapshots", p.serviceEndpoint,
                    "--duration", "4s", "--metrics-dir", dir + "/m"]
        if role == "log" { args += ["--log-file", dir + "/log.jsonl"] }
        if role == "query" { args += ["--service", "tcp://127.0.0.1:*"] }
        let (proc, out, err) = try Harness.start(Harness.clusterNode, args)
        let epoch: UInt64 = 42
        let sent = try await offPool { () -> Bool in
            guard try p.awaitSubscriber() else { return false }
            try p.heartbeat(epoch: epoch, version: 0)
            for v in UInt64(1)...20 { try p.publish(epoch: epoch, version: v) }
            try p.publish(epoch: epoch, version: .max)          // highest + 1 overflowed on the next frame
            for v in UInt64(21)...30 { try p.publish(epoch: epoch, version: v) }
            try p.publish(epoch: .max, version: 31)             // an epoch that fenced every real frame after it
            for v in UInt64(31)...40 { try p.publish(epoch: epoch, version: v) }
            try p.publish(epoch: epoch, version: .max - 1)
            try p.end(epoch: epoch, version: 40)
            return true
        }
        #expect(sent, "the reader never subscribed")
        let r = await offPoolWait(proc, out, err, timeout: 30)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let m = try NodeMetrics.decode(json: try String(contentsOfFile: dir + "/m/metrics.json", encoding: .utf8))
        #expect(m[.implausibleDiscarded] == 3, "\(m.counters)")
        #expect(m[.lost] == 0 && m.epoch == epoch && m[.oldEpochDiscarded] == 0, "\(m.counters)")
        #expect(m[.applied] == 40, "\(m.counters)")
    }

    @Test("a saved writer state at the counters' limit is refused and the writer starts fresh", arguments: ["version", "epoch"])
    func stateAtTheLimit(field: String) async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let dir = Harness.tempDirectory("state-limit-\(field)")
        let saved = Snapshot.initial(epoch: field == "epoch" ? .max : 5, fsmInstanceID: "fsm", sourceModule: "test",
                                     historyLimit: 4, contextData: Data()).withVersion(field == "version" ? .max : 9)
        try SnapshotFile(directory: dir + "/state").save(saved)
        let r = try await Harness.run(Harness.clusterNode, [
            "writer", "--pub", "tcp://127.0.0.1:*", "--snapshots", "tcp://127.0.0.1:*", "--rate", "100",
            "--state-dir", dir + "/state", "--duration", "1s", "--metrics-dir", dir + "/m",
        ], timeout: 30)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("saved state unreadable"), "\(r.stderr.suffix(2000))")
        let m = try NodeMetrics.decode(json: try String(contentsOfFile: dir + "/m/metrics.json", encoding: .utf8))
        #expect(m[.published] > 50 && m[.finalVersion] < 1_000, "\(m.counters)")
        guard case .restored(let now) = SnapshotFile(directory: dir + "/state").load() else {
            Issue.record("the writer did not save a fresh state")
            return
        }
        #expect(now.version == m[.finalVersion])
    }
}

/// Waits for a started process off the cooperative pool.
func offPoolWait(_ p: Process, _ out: Pipe, _ err: Pipe, timeout: Double) async -> Harness.Result {
    (try? await offPool { Harness.wait(p, out, err, timeout: timeout) })
        ?? Harness.Result(status: -1, stdout: "", stderr: "wait failed", pid: p.processIdentifier)
}
