import ClusterCore
import ClusterTestSupport
import Foundation
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A frame above a socket's `ZMQ_MAXMSGSIZE`, against real `cluster-node`
/// processes: libzmq drops that connection before the frame is allocated,
/// the node counts it and goes on.
@Suite("message limits", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct MessageLimitTests {
    @Test("a reader's publisher sends a frame above --max-message: the connection is dropped, counted, connected again, and nothing real is lost",
          arguments: [SubscriberKind.libzmq, .direct])
    func reader(subscriber: SubscriberKind) async throws {
        let p = try ForgedInputTests.Publisher()
        let dir = Harness.tempDirectory("max-message-reader")
        let limit = 100_000
        let (proc, out, err) = try Harness.start(Harness.clusterNode, [
            "reader", "--name", "r", "--pub", p.endpoint, "--snapshots", p.serviceEndpoint, "--max-message", "\(limit)",
            "--duration", "8s", "--metrics-dir", dir + "/m", "--subscriber", subscriber.rawValue,
        ], environment: ["CLUSTERSIM_TEST_TAG": "max-message-reader"])
        let epoch: UInt64 = 7
        let (subscribed, resubscribed) = try await offPool { () -> (Bool, Bool) in
            guard try p.awaitSubscriber() else { return (false, false) }
            try p.heartbeat(epoch: epoch, version: 0)
            for v in UInt64(1)...10 { try p.publish(epoch: epoch, version: v) }
            // One frame of the snapshot kind above the limit: libzmq refuses it whole.
            _ = try p.pub.send(FrameKind.snapshot.prefix + [UInt8](repeating: 0x42, count: limit + 1))
            // The reader sees the connection gone at its next tick or the one after, and connects again.
            guard try p.awaitSubscriber() else { return (true, false) }
            for v in UInt64(11)...20 { try p.publish(epoch: epoch, version: v) }
            try p.end(epoch: epoch, version: 20)
            return (true, true)
        }
        #expect(subscribed && resubscribed, "subscribed \(subscribed), again after the drop \(resubscribed)")
        let r = await offPoolWait(proc, out, err, timeout: 30)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let m = try NodeMetrics.decode(json: try String(contentsOfFile: dir + "/m/metrics.json", encoding: .utf8))
        #expect(m[.connectionsDropped] == 1, "\(m.counters)")
        #expect(m[.received] == 20 && m[.lost] == 0 && m[.decodeErrors] == 0, "\(m.counters)")
        #expect(m.gauges[.maxMessageBytes] == Double(limit))
        #expect(Harness.processes(tagged: "max-message-reader").isEmpty, "processes left behind")
    }

    @Test("a frame above the limit to the writer's snapshot service: the connection is dropped and counted; the service answers again and the writer publishes on")
    func snapshotService() async throws {
        let port = try await offPool { ExternalLauncherTests.freePort(block: 2) }
        let (pub, snapshots) = ("tcp://127.0.0.1:\(port + 1)", "tcp://127.0.0.1:\(port + 2)")
        let dir = Harness.tempDirectory("max-message-writer")
        let (proc, out, err) = try Harness.start(Harness.clusterNode, [
            "writer", "--pub", pub, "--snapshots", snapshots, "--rate", "100", "--duration", "5s", "--metrics-dir", dir + "/m",
        ], environment: ["CLUSTERSIM_TEST_TAG": "max-message-writer"])
        let context = try Context()
        let answers = try await offPool { () -> [UInt64] in
            let client = try context.socket(.dealer)
            try client.setLinger(.zero)
            try client.connect(snapshots)
            func ask(_ id: UInt64) throws -> UInt64? {
                var req = Clustersim_V1_SnapshotRequest()
                req.client = "test"
                req.requestID = id
                _ = try client.send(try req.serializedBytes() as [UInt8])
                guard let m = try client.receive(timeout: .seconds(5)) else { return nil }
                return try Clustersim_V1_SnapshotReply(serializedBytes: m.bytes).requestID
            }
            var answered: [UInt64] = []
            if let a = try ask(1) { answered.append(a) }
            // Far above a request's limit (16 KiB): the writer's libzmq drops the connection.
            _ = try client.send([UInt8](repeating: 0x0A, count: 1 << 20))
            usleep(300_000)
            // The DEALER connects again by itself; the service answers the same client.
            if let a = try ask(2) { answered.append(a) }
            // Keep the connection until the writer has stopped: its end is not one more disconnect.
            _ = try? client.receive(timeout: .seconds(8))
            return answered
        }
        #expect(answers == [1, 2], "answers \(answers)")
        let r = await offPoolWait(proc, out, err, timeout: 30)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let m = try NodeMetrics.decode(json: try String(contentsOfFile: dir + "/m/metrics.json", encoding: .utf8))
        #expect(m[.peerDisconnects] == 1, "\(m.counters)")
        #expect(m[.snapshotRequestsServed] == 2 && m[.published] >= 400, "\(m.counters)")
        #expect(Harness.processes(tagged: "max-message-writer").isEmpty, "processes left behind")
    }
}
