import ClusterCore
import Foundation
import Testing

/// The message limits hold what the writer makes, and the queue sizes keep their budgets.
@Suite("Message limits")
struct MessageLimitsTests {
    /// The largest snapshot a writer makes: every field at its widest (the
    /// longest reason and event name, 64-bit stamps), full history.
    func widest(payloadBytes: Int, historyLimit: Int) -> Snapshot {
        let reason = TransitionTable.all.map(\.reason).max { $0.utf8.count < $1.utf8.count }!
        let illegal = "event 'boot_completed' is not allowed in state ERROR_STATE"
        let event = FSMEvent.allCases.map(\.rawValue).max { $0.utf8.count < $1.utf8.count }!
        let history = (0..<historyLimit).map { _ in
            HistoryEntry(from: .errorState, to: .shutdown, event: event, reason: max(reason, illegal), version: .max, wallNanos: .max)
        }
        return Snapshot(version: .max, epoch: .max, state: .errorState, prevState: .shutdown, reason: illegal,
                        snapshotID: Snapshot.makeID(epoch: .max, version: .max), fsmInstanceID: "fsm-writer-\(UInt64.max)",
                        sourceModule: "cluster-node.writer", attemptCount: .max, monotonicNanos: .max, wallNanos: .max,
                        history: history, contextData: Data(repeating: 0xFF, count: payloadBytes))
    }

    @Test("the widest snapshot and its frame stay within the bound and the limit", arguments: [(0, 0), (256, 16), (1 << 20, 1_024)])
    func bound(payloadBytes: Int, historyLimit: Int) {
        let encoded = widest(payloadBytes: payloadBytes, historyLimit: historyLimit).encoded()
        #expect(encoded.count <= MessageLimits.snapshotBytes(payloadBytes: payloadBytes, historyLimit: historyLimit))
        var builder = SnapshotFrameBuilder()
        builder.begin(encodedSnapshot: encoded, epoch: .max, version: .max, coalesced: .max)
        let (frame, _) = builder.stampAndSend { $0.count }
        #expect(frame <= MessageLimits.snapshotFrameLimit(payloadBytes: payloadBytes, historyLimit: historyLimit) - 65_536)
        #expect(frame <= MessageLimits.defaultSnapshotFrameLimit)
    }

    @Test("queues keep their byte budget and the default 100 000 messages for the ready topologies' frames")
    func highWaterMarks() {
        let small = MessageLimits.typicalFrameBytes(payloadBytes: 512, historyLimit: 16)
        #expect(MessageLimits.highWaterMark(messages: 100_000, frameBytes: small, budget: MessageLimits.subscriberQueueBytes) == 100_000)
        let large = MessageLimits.typicalFrameBytes(payloadBytes: 1 << 20, historyLimit: 16)
        let hwm = MessageLimits.highWaterMark(messages: 100_000, frameBytes: large, budget: MessageLimits.subscriberQueueBytes)
        #expect(Int(hwm) * large <= MessageLimits.subscriberQueueBytes && hwm == 255)
        #expect(MessageLimits.highWaterMark(messages: 0, frameBytes: large, budget: MessageLimits.subscriberQueueBytes) == 255)
        #expect(MessageLimits.highWaterMark(messages: 50, frameBytes: small, budget: MessageLimits.subscriberQueueBytes) == 50)
        #expect(MessageLimits.highWaterMark(messages: 1_000, frameBytes: 1 << 30, budget: MessageLimits.clientRepliesBytes) == 16)
    }

    @Test("a batch frame of the widest snapshots stays within the limit; batches carry at most 1 MiB of them",
          arguments: [(256, 16, 64, 64), (4096, 16, 64, 64), (65_536, 16, 64, 14), (1 << 20, 1_024, 4_096, 1), (256, 16, nil, 1)])
    func batches(payloadBytes: Int, historyLimit: Int, maxCount: Int?, expected: Int) {
        let count = MessageLimits.batchCount(maxCount: maxCount, payloadBytes: payloadBytes, historyLimit: historyLimit)
        #expect(count == expected)
        var builder = BatchFrameBuilder()
        builder.begin(epoch: .max)
        let snapshot = widest(payloadBytes: payloadBytes, historyLimit: historyLimit)
        for _ in 0..<count {
            builder.append(encodedSnapshot: snapshot.encoded(), version: .max, madeMonotonicNanos: .max, madeWallNanos: .max)
        }
        let (frame, _) = builder.stampAndSend { $0.count }
        let limit = MessageLimits.frameLimit(payloadBytes: payloadBytes, historyLimit: historyLimit, batchCount: count)
        #expect(frame <= limit - 65_536, "a batch of \(count): \(frame) bytes, limit \(limit)")
        #expect(count == 1 || frame <= MessageLimits.batchFrameBytes + 1_024)
    }

    @Test("a run's limits come from its writer and its length")
    func runLimits() throws {
        var t = try TopologyLoader.parse(Data(#"{"name": "t", "duration": "20s", "writer": {"rate": 10, "payloadBytes": 4096}, "readers": [{"role": "cli"}]}"#.utf8), file: "t.json")
        let limits = MessageLimits(topology: t)
        // Batching by default: up to 64 versions a frame.
        #expect(limits.snapshotFrame == MessageLimits.frameLimit(payloadBytes: 4096, historyLimit: 16, batchCount: 64))
        #expect(limits.typicalFrame == 64 * MessageLimits.typicalFrameBytes(payloadBytes: 4096, historyLimit: 16))
        #expect(limits.control == MessageLimits.metricsBytes(seconds: 20 + 20 + 60) && limits.control < 9 << 20)
        #expect(limits.queryReply == limits.control)
        t.writer.batch = nil
        #expect(MessageLimits(topology: t).snapshotFrame == MessageLimits.snapshotFrameLimit(payloadBytes: 4096, historyLimit: 16))
        t.duration = .seconds(86_400)
        #expect(MessageLimits(topology: t).control > 8 << 20 + 86_400 * 4_096)
    }
}
