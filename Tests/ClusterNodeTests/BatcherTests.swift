import ClusterCore
import Foundation
import Testing

@testable import ClusterNode

/// When a batching writer sends the versions waiting (`Batcher`), and what it
/// records of its frames.
@Suite("writer batching")
struct BatcherTests {
    static func snapshot(_ v: UInt64, madeAt mono: UInt64) -> Snapshot {
        Snapshot(version: v, epoch: 3, state: .active, prevState: .idle, reason: "test", snapshotID: "3-\(v)",
                 fsmInstanceID: "fsm", sourceModule: "test", attemptCount: 0, monotonicNanos: mono, wallNanos: mono,
                 history: [], contextData: Data())
    }

    @Test("maxDelay 0: every version is due when it is added; versions added together share the frame")
    func noDelay() {
        var b = Batcher(WriterBatching(maxCount: 4))
        #expect(b.deadline == nil)
        b.add(Self.snapshot(1, madeAt: 1_000), now: 1_000)
        #expect(b.deadline == 1_000 && !b.held)
        b.add(Self.snapshot(2, madeAt: 1_010), now: 1_010)
        #expect(b.deadline == 1_000 && b.pending.map(\.version) == [1, 2] && !b.isFull)
        b.add(Self.snapshot(3, madeAt: 1_020), now: 1_020)
        b.add(Self.snapshot(4, madeAt: 1_030), now: 1_030)
        #expect(b.isFull)
        let sent = b.pending
        b.reset()
        b.frameSent(sendMono: 1_040, of: sent)
        #expect(b.deadline == nil && b.pending.isEmpty)
        // Right after a frame, maxDelay 0 still sends at once.
        b.add(Self.snapshot(5, madeAt: 1_041), now: 1_041)
        #expect(b.deadline == 1_041 && !b.held)
    }

    @Test("maxDelay: at once after a quiet spell, else maxDelay after the last frame; never later than maxDelay")
    func withDelay() {
        var b = Batcher(WriterBatching(maxCount: 64, maxDelayNanos: 1_000_000))
        b.add(Self.snapshot(1, madeAt: 10_000_000), now: 10_000_000)
        #expect(b.deadline == 10_000_000 && !b.held)   // the first frame ever: no wait
        let first = b.pending
        b.reset()
        b.frameSent(sendMono: 10_000_000, of: first)
        b.add(Self.snapshot(2, madeAt: 10_300_000), now: 10_300_000)
        #expect(b.deadline == 11_000_000 && b.held)    // 0.3 ms after a frame: held to 1 ms after it
        b.add(Self.snapshot(3, madeAt: 10_600_000), now: 10_600_000)
        #expect(b.deadline == 11_000_000)
        let second = b.pending
        b.reset()
        b.frameSent(sendMono: 11_000_000, of: second)
        b.add(Self.snapshot(4, madeAt: 12_500_000), now: 12_500_000)
        #expect(b.deadline == 12_500_000 && !b.held)    // 1.5 ms after the last frame: at once
        // What the frames carried: one of 1, one of 2 (bucket "2"); delays 0, 0.7 ms and 0.4 ms.
        #expect(b.statistics.frames[0] == 1 && b.statistics.frames[1] == 1 && b.statistics.versions == 3)
        #expect(b.statistics.delay.totalCount == 3)
        #expect(b.statistics.delay.max >= 699_000 && b.statistics.delay.max <= 702_000)
    }
}

@Suite("batch statistics")
struct BatchStatisticsTests {
    @Test("frames fall in power-of-two buckets, and the counters read back the same")
    func buckets() throws {
        var s = BatchStatistics()
        for n in [1, 1, 2, 3, 4, 5, 8, 9, 64, 65, 4096, 5000] { s.record(frameOf: n) }
        #expect(s.frames[0] == 2)   // 1
        #expect(s.frames[1] == 1)   // 2
        #expect(s.frames[2] == 2)   // 3–4
        #expect(s.frames[3] == 2)   // 5–8
        #expect(s.frames[4] == 1)   // 9–16
        #expect(s.frames[6] == 1)   // 33–64
        #expect(s.frames[7] == 1)   // 65–128
        #expect(s.frames[12] == 2)  // 2049–4096, and beyond
        #expect(s.frameCount == 12 && s.batchFrames == 10)
        var counters = s.counters
        #expect(counters["frames_versions_le_1"] == 2 && counters["frames_versions_le_4096"] == 2)
        #expect(counters["frames_versions_le_32"] == nil)
        #expect(counters["batched_versions"] == s.versions - 2)
        counters["published"] = s.versions
        let back = try #require(BatchStatistics(counters: counters))
        #expect(back.frames == s.frames && back.versions == s.versions)
        #expect(BatchStatistics(counters: ["published": 10]) == nil)
    }
}
