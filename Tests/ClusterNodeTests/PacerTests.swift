import ClusterCore
import Testing

@testable import ClusterNode

/// The open-loop schedule the writer and the query load generator pace with.
@Suite("pacer")
struct PacerTests {
    /// Takes the ticks due: [count, 1 if late].
    func take(_ p: inout Pacer, now: UInt64, budget: UInt64 = 1_000) -> [UInt64] {
        let (count, late) = p.takeDue(now: now, budget: budget)
        return [count, late ? 1 : 0]
    }

    @Test("nothing is due before the schedule begins, or ever with no interval")
    func notBegun() {
        var p = Pacer(interval: 1_000)
        #expect(p.nextDue == nil)
        let r1 = take(&p, now: 5_000)
        #expect(r1[0] == 0)
        var never = Pacer(interval: 0)
        never.begin(at: 0)
        #expect(never.nextDue == nil)
        let r2 = take(&never, now: 1_000_000)
        #expect(r2[0] == 0)
    }

    @Test("tick n is due at origin + n × interval; one due at a time is on time")
    func onTime() {
        var p = Pacer(interval: 1_000)
        p.begin(at: 10_000)
        #expect(p.nextDue == 10_000)
        let r3 = take(&p, now: 10_000)
        #expect(r3 == [1, 0])
        #expect(p.nextDue == 11_000)
        let r4 = take(&p, now: 10_999)
        #expect(r4 == [0, 0])
        let r5 = take(&p, now: 11_000)
        #expect(r5 == [1, 0])
        #expect(p.lateWakeUps == 0)
    }

    @Test("a late wake-up catches up every tick missed, within the budget, and is counted")
    func lateWakeUp() {
        var p = Pacer(interval: 1_000)
        p.begin(at: 0)
        let r6 = take(&p, now: 4_500)
        #expect(r6 == [5, 1])
        #expect(p.lateWakeUps == 1)
        #expect(p.nextDue == 5_000)
        let r7 = take(&p, now: 100_000, budget: 10)
        #expect(r7 == [10, 1])
        #expect(p.taken == 15)
        let r8 = take(&p, now: 100_000, budget: 1_000)
        #expect(r8 == [86, 1])
        #expect(p.lateWakeUps == 3)
    }

    @Test("beginning again starts from tick 0")
    func beginAgain() {
        var p = Pacer(interval: 1_000)
        p.begin(at: 0)
        _ = take(&p, now: 3_000)
        p.begin(at: 50_000)
        #expect(p.taken == 0)
        #expect(p.nextDue == 50_000)
    }
}

/// The relay's hold queue: order, delay, jitter, loss.
@Suite("relay hold queue")
struct HoldQueueTests {
    func config(delay: UInt64 = 0, jitter: UInt64 = 0, loss: Double = 0) -> RelayConfig {
        var c = RelayConfig(name: "relay", upstream: "tcp://127.0.0.1:1", bindEndpoint: "tcp://127.0.0.1:2")
        c.delayNanos = delay
        c.jitterNanos = jitter
        c.loss = loss
        c.seed = 7
        return c
    }

    @Test("frames leave in order, each after its delay, jitter never reordering them")
    func order() {
        var q = HoldQueue(config(delay: 1_000, jitter: 5_000))
        for i in 0..<100 {
            let admitted = q.admit([UInt8(i)], arrival: UInt64(i) * 10, carriesVersions: true)
            #expect(admitted)
        }
        #expect(q.count == 100)
        let early = q.popDue(now: 999)
        #expect(early == nil)
        var out: [UInt8] = []
        var last: UInt64 = 0
        var now: UInt64 = 0
        while q.count > 0 {
            now += 100
            while let (arrival, frame) = q.popDue(now: now) {
                #expect(now >= arrival + 1_000)
                #expect(arrival >= last)
                last = arrival
                out.append(frame[0])
            }
        }
        #expect(out == (0..<100).map(UInt8.init))
    }

    @Test("loss drops snapshot frames only")
    func loss() {
        var q = HoldQueue(config(loss: 1))
        let snapshot = q.admit([1], arrival: 0, carriesVersions: true)
        let heartbeat = q.admit([2], arrival: 0, carriesVersions: false)
        #expect(!snapshot)
        #expect(heartbeat)
        #expect(q.count == 1)
    }

    @Test("a delay fault adds to frames arriving before its end")
    func delayFault() {
        var q = HoldQueue(config(delay: 1_000))
        q.addDelay(5_000, until: 10_000)
        _ = q.admit([1], arrival: 0, carriesVersions: true)
        #expect(q.nextDue == 6_000)
        _ = q.admit([2], arrival: 20_000, carriesVersions: true)
        #expect(q.lastDue == 21_000)
    }
}
