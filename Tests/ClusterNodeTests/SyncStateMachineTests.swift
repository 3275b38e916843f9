import ClusterCore
import Testing

@testable import ClusterNode

/// The reader's Clone-pattern decisions, event by event, without sockets.
@Suite("sync state machine")
struct SyncStateMachineTests {
    typealias Machine = SyncStateMachine
    let startMono: UInt64 = 1_000
    let startWall: UInt64 = 7_000_000

    func machine(_ policy: SlowPolicy = .drop) -> Machine {
        Machine(policy: policy, startMono: startMono, startWall: startWall)
    }

    /// The request decided and not yet sent, if any.
    func asked(_ m: Machine) -> Machine.Request? {
        if case .asking(let r) = m.fetch { return r }
        return nil
    }

    /// Sends the decided request and returns it.
    func send(_ m: inout Machine, at mono: UInt64 = 2_000) throws -> Machine.Request {
        guard case .sendRequest(let r) = m.requestToSend(at: mono) else {
            Issue.record("no request to send")
            throw CancellationError()
        }
        return r
    }

    @Test("the first heartbeat asks for the start snapshot, timed from the process start; updates are held")
    func heartbeatAsksForStart() {
        var m = machine()
        #expect(m.phase == .awaitingFirstFrame)
        #expect(m.holdsUpdates)
        #expect(m.fetch == .idle)
        m.heartbeat(epoch: 5, trackerEpoch: 0, at: 9_000)
        #expect(m.phase == .holdingForStart)
        #expect(m.holdsUpdates)
        #expect(m.readiness == .heartbeatSeen)
        let r = asked(m)
        #expect(r?.trigger == .start)
        #expect(r?.triggerMono == startMono)
        #expect(r?.triggerWall == startWall)
        #expect(r?.id == 1)
    }

    @Test("a first update asks for the start snapshot too, once; later heartbeats do not ask again")
    func updateAsksForStart() {
        var m = machine()
        #expect(m.updateHeld(count: 1) == .none)
        #expect(m.phase == .holdingForStart)
        #expect(asked(m)?.trigger == .start)
        #expect(m.readiness == .awaitingHeartbeat)   // an update is not a heartbeat
        #expect(m.updateHeld(count: 2) == .none)
        m.heartbeat(epoch: 9, trackerEpoch: 0, at: 9_000)
        #expect(asked(m)?.id == 1)
        #expect(m.readiness == .heartbeatSeen)
    }

    @Test("a request is sent on an aux turn, once, and awaited")
    func requestIsSentOnce() throws {
        var m = machine()
        m.heartbeat(epoch: 1, trackerEpoch: 0, at: 5_000)
        #expect(m.isFetching)
        #expect(!m.awaitsAnswer)
        let r = try send(&m, at: 6_000)
        #expect(r.sentMono == 6_000)
        #expect(m.awaitsAnswer)
        #expect(m.requestToSend(at: 7_000) == .none)
    }

    @Test("the start snapshot's answer is applied, then the held updates are replayed")
    func startAnswerReplays() throws {
        var m = machine()
        _ = m.updateHeld(count: 1)
        let r = try send(&m)
        #expect(m.snapshotReply(id: r.id + 1, hasSnapshot: true) == .none)   // not the awaited request
        #expect(m.awaitsAnswer)
        #expect(m.snapshotReply(id: r.id, hasSnapshot: true) == .applySnapshot(r, thenReplayHeld: true))
        #expect(m.phase == .live)
        #expect(!m.holdsUpdates)
        #expect(m.fetch == .idle)
        #expect(m.stop() == .none)
    }

    @Test("an answer without a snapshot: updates stay held, and the start is asked again a second after the request")
    func answerWithoutSnapshot() throws {
        var m = machine()
        m.heartbeat(epoch: 1, trackerEpoch: 0, at: 5_000)
        let r = try send(&m, at: 2_000)
        #expect(m.snapshotReply(id: r.id, hasSnapshot: false) == .none)
        #expect(m.holdsUpdates)
        m.tick(now: 2_000 + 900_000_000)
        #expect(m.awaitsAnswer)                 // not yet: a second from the request
        m.tick(now: 2_000 + 1_000_000_001)
        let again = try #require(asked(m))
        #expect(again.id == r.id + 1 && again.trigger == .start && again.triggerMono == startMono)
        let sent = try send(&m, at: 1_100_000_000)
        #expect(m.snapshotReply(id: sent.id, hasSnapshot: true) == .applySnapshot(sent, thenReplayHeld: true))
        #expect(!m.holdsUpdates)
    }

    @Test("updates held up to the limit are replayed without the start snapshot")
    func heldLimit() {
        var m = machine()
        #expect(m.updateHeld(count: Machine.heldLimit - 1) == .none)
        #expect(m.updateHeld(count: Machine.heldLimit) == .replayHeld)
        #expect(m.phase == .live)
        #expect(asked(m)?.trigger == .start)
    }

    @Test("after 5 s the start snapshot is given up on; with no frame yet, the first heartbeat still asks for it")
    func startWaitGivesUp() {
        var m = machine()
        #expect(m.startWaitCheck(sinceStart: Machine.startWaitLimit) == .none)
        #expect(m.startWaitCheck(sinceStart: Machine.startWaitLimit + 1) == .replayHeld)
        #expect(m.phase == .liveStartUnasked)
        #expect(!m.holdsUpdates)
        #expect(m.startWaitCheck(sinceStart: Machine.startWaitLimit + 2) == .none)
        m.updateObserved(.first, at: 8_000)
        #expect(m.fetch == .idle)   // an update does not ask for it now
        m.heartbeat(epoch: 3, trackerEpoch: 3, at: 9_000)
        #expect(m.phase == .live)
        #expect(asked(m)?.trigger == .start)
        #expect(asked(m)?.triggerMono == startMono)
    }

    @Test("a given-up start whose request is in flight is not asked for again")
    func givenUpWithRequestInFlight() throws {
        var m = machine()
        m.heartbeat(epoch: 1, trackerEpoch: 0, at: 5_000)
        let r = try send(&m)
        #expect(m.startWaitCheck(sinceStart: Machine.startWaitLimit + 1) == .replayHeld)
        #expect(m.phase == .live)
        // The late answer is still applied, with nothing left to replay.
        #expect(m.snapshotReply(id: r.id, hasSnapshot: true) == .applySnapshot(r, thenReplayHeld: false))
    }

    @Test("READY after a heartbeat once no answer is awaited, or after 3 s; once")
    func readiness() throws {
        var m = machine()
        #expect(m.readyCheck(sinceStart: Machine.readyWaitLimit + 1) == .none)   // no heartbeat yet
        m.heartbeat(epoch: 1, trackerEpoch: 0, at: 5_000)
        #expect(m.readyCheck(sinceStart: 0) == .sendReady)   // decided, not yet sent: not awaited
        var n = machine()
        n.heartbeat(epoch: 1, trackerEpoch: 0, at: 5_000)
        _ = try send(&n)
        #expect(n.readyCheck(sinceStart: Machine.readyWaitLimit) == .none)
        #expect(n.readyCheck(sinceStart: Machine.readyWaitLimit + 1) == .sendReady)
        #expect(n.readiness == .sent)
        #expect(n.readyCheck(sinceStart: Machine.readyWaitLimit + 2) == .none)
    }

    /// A machine past its start: live, nothing in flight.
    func live(_ policy: SlowPolicy) throws -> Machine {
        var m = machine(policy)
        m.heartbeat(epoch: 4, trackerEpoch: 0, at: 5_000)
        let r = try send(&m)
        _ = m.snapshotReply(id: r.id, hasSnapshot: true)
        return m
    }

    @Test("a gap asks for a snapshot only under resync", arguments: [SlowPolicy.drop, .conflate, .resync, .snail])
    func gap(policy: SlowPolicy) throws {
        var m = try live(policy)
        m.updateObserved(.gap(missing: 3...4), at: 50_000)
        if policy == .resync {
            #expect(asked(m)?.trigger == .gap)
            #expect(asked(m)?.triggerMono == 50_000)
        } else {
            #expect(m.fetch == .idle)
        }
    }

    @Test("a new epoch asks for a snapshot, from an update or a heartbeat; other outcomes ask for nothing")
    func epochChange() throws {
        var m = try live(.drop)
        for outcome: VersionTracker.Outcome in [.first, .inOrder, .duplicate, .outOfOrder, .stale, .oldEpoch, .implausible] {
            m.updateObserved(outcome, at: 1)
        }
        #expect(m.fetch == .idle)
        m.updateObserved(.newEpoch(previous: 4), at: 60_000)
        #expect(asked(m)?.trigger == .epochChange)
        var h = try live(.drop)
        h.heartbeat(epoch: 5, trackerEpoch: 0, at: 1)   // no updates yet: nothing to compare
        #expect(h.fetch == .idle)
        h.heartbeat(epoch: 4, trackerEpoch: 4, at: 1)
        #expect(h.fetch == .idle)
        h.heartbeat(epoch: 5, trackerEpoch: 4, at: 70_000)
        #expect(asked(h)?.trigger == .epochChange)
    }

    @Test("one request at a time: a trigger while one is decided or awaited asks for nothing")
    func oneAtATime() throws {
        var m = try live(.resync)
        m.updateObserved(.gap(missing: 1...1), at: 10)
        let r = try send(&m)
        m.updateObserved(.newEpoch(previous: 1), at: 20)
        #expect(m.fetch == .awaiting(r))
        #expect(m.snapshotReply(id: r.id, hasSnapshot: true) == .applySnapshot(r, thenReplayHeld: false))
    }

    @Test("snail: over the lag limit, reconnect; the next update's jump is taken and a snapshot asked for")
    func snail() throws {
        var m = try live(.snail)
        #expect(!m.expectsJump)
        m.lagOverLimit()
        #expect(m.reconnectDue)
        #expect(!m.expectsJump)   // the rest of a batch frame in hand came before the reconnect
        m.reconnected()
        #expect(!m.reconnectDue)
        #expect(m.expectsJump)
        m.heartbeat(epoch: 4, trackerEpoch: 4, at: 30_000)   // a heartbeat asks, and the jump is still expected
        #expect(asked(m)?.trigger == .snail)
        #expect(m.expectsJump)
        _ = try send(&m)
        m.jumpTaken(at: 40_000)
        #expect(m.jump == .none)
        #expect(m.awaitsAnswer)   // the request in flight stands
        var n = try live(.snail)
        n.lagOverLimit()
        n.reconnected()
        n.jumpTaken(at: 40_000)
        #expect(asked(n)?.trigger == .snail)
        #expect(asked(n)?.triggerMono == 40_000)
    }

    @Test("an answer not come within a second is asked again: a new id, the same trigger and trigger time")
    func retry() throws {
        var m = try live(.resync)
        m.updateObserved(.gap(missing: 1...1), at: 10)
        let r = try send(&m, at: 5_000_000_000)
        m.tick(now: 5_000_000_000 + Machine.answerTimeout)
        #expect(m.fetch == .awaiting(r))
        m.tick(now: 5_000_000_000 + Machine.answerTimeout + 1)
        let again = try #require(asked(m))
        #expect(again.id == r.id + 1)
        #expect(again.trigger == .gap)
        #expect(again.triggerMono == r.triggerMono)
        #expect(again.triggerWall == r.triggerWall)
        #expect(m.snapshotReply(id: r.id, hasSnapshot: true) == .none)   // the abandoned request's late answer
    }

    @Test("at stop, held updates are replayed")
    func stopReplays() {
        var m = machine()
        _ = m.updateHeld(count: 1)
        #expect(m.stop() == .replayHeld)
        #expect(m.stop() == .none)
    }

    @Test("copies do not share state")
    func valueSemantics() {
        var m = machine(.resync)
        let before = m
        m.heartbeat(epoch: 1, trackerEpoch: 0, at: 1)
        #expect(before.fetch == .idle)
        #expect(before.phase == .awaitingFirstFrame)
        #expect(m.fetch != .idle)
    }
}
