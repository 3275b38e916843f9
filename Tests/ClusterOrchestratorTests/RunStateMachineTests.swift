import ClusterCore
import Testing

@testable import ClusterOrchestrator

/// The run's phases, driven by events alone: no process, socket or clock.
@Suite("Run state machine")
struct RunStateMachineTests {
    typealias Machine = RunStateMachine
    static let ms: UInt64 = 1_000_000
    static let s: UInt64 = 1_000_000_000

    func machine(warmup: TimeSpan = .seconds(1), duration: TimeSpan = .seconds(10)) -> Machine {
        Machine(readyTimeout: .seconds(30), warmup: warmup, duration: duration)
    }

    @Test("a starter that ends before READY aborts the launch at once; after the launch it changes nothing")
    func starterEnded() {
        var m = machine()
        _ = m.begin(now: 0)
        let ending = Machine.Ending(launchToReadyMs: 300, measureStart: nil, measuredSeconds: 0,
                                    aborted: .endedBeforeReady(node: "cli-2", how: "exit 64"), collectStart: 300 * Self.ms)
        #expect(m.starterEnded(node: "cli-2", how: "exit 64", now: 300 * Self.ms) == .stopWriter(ending))
        #expect(ending.aborted?.description == "cli-2 ended before it was ready (exit 64)")
        var later = machine()
        _ = later.begin(now: 0)
        _ = later.conditionMet(now: 100 * Self.ms)
        #expect(later.starterEnded(node: "cli-2", how: "exit 1", now: 200 * Self.ms) == .none)
    }

    @Test("a whole run: launch, ready, warm-up, measure, stop the writer, collect, tear down, finish")
    func wholeRun() throws {
        var m = machine()
        #expect(m.wait == nil)
        #expect(m.begin(now: 0) == .launchStarters)
        #expect(m.wait == Machine.Wait(deadline: 30 * Self.s, condition: .startersReady))
        #expect(m.conditionMet(now: 400 * Self.ms) == .announceReady(launchToReadyMs: 400))
        #expect(m.wait == Machine.Wait(deadline: 1_400 * Self.ms))
        #expect(!m.isMeasuring && m.measureStart == nil)
        let start = Machine.MeasureStart(mono: 1_400 * Self.ms, wall: 77)
        #expect(m.deadlinePassed(now: 1_400 * Self.ms, wallNow: 77) == .startMeasuring(start))
        #expect(m.isMeasuring && m.measureStart == start)
        #expect(m.wait == Machine.Wait(deadline: 11_400 * Self.ms))
        let ending = Machine.Ending(launchToReadyMs: 400, measureStart: start, measuredSeconds: 10, aborted: nil,
                                    collectStart: 11_400 * Self.ms)
        #expect(m.deadlinePassed(now: 11_400 * Self.ms, wallNow: 0) == .stopWriter(ending))
        #expect(!m.isMeasuring && m.measureStart == start, "the start stays known for the samples' times")
        #expect(m.wait == Machine.Wait(deadline: 16_400 * Self.ms, condition: .writerFinished))
        #expect(m.conditionMet(now: 11_500 * Self.ms) == .stopOthers)
        #expect(m.wait == Machine.Wait(deadline: 18_500 * Self.ms, condition: .allFinished))
        #expect(m.conditionMet(now: 12_400 * Self.ms) == .tearDown)
        #expect(m.wait == nil, "nothing is awaited while the processes are stopped")
        #expect(m.childrenStopped(now: 13_000 * Self.ms) == .none)
        #expect(m.wait == Machine.Wait(deadline: 13_100 * Self.ms))
        let timeline = Machine.RunTimeline(ending: ending, collectMs: 1_000, teardownMs: 700)
        #expect(m.deadlinePassed(now: 13_100 * Self.ms, wallNow: 0) == .finish(timeline))
        #expect(m.wait == nil && m.phase == .finished(timeline))
    }

    @Test("nodes others start: they register first, and readyTimeout counts from the last registration")
    func registering() throws {
        var m = Machine(readyTimeout: .seconds(30), warmup: .zero, duration: .seconds(10), registerTimeout: .seconds(60))
        #expect(m.begin(now: 0) == .launchStarters)
        #expect(m.wait == Machine.Wait(deadline: 60 * Self.s, condition: .startersRegistered))
        #expect(m.conditionMet(now: 2 * Self.s) == .announceRegistered(launchToRegisteredMs: 2_000))
        #expect(m.wait == Machine.Wait(deadline: 32 * Self.s, condition: .startersReady))
        #expect(m.conditionMet(now: 3 * Self.s) == .announceReady(launchToReadyMs: 3_000), "launch to ready counts from the launch")
    }

    @Test("never registered: aborted naming the timeout; the writer is still stopped and the rest collected")
    func registerTimeout() throws {
        var m = Machine(readyTimeout: .seconds(30), warmup: .zero, duration: .seconds(10), registerTimeout: .seconds(5))
        _ = m.begin(now: 0)
        let action = m.registerTimedOut(now: 5 * Self.s, missing: 1)
        guard case .stopWriter(let ending) = action else { Issue.record("\(action)"); return }
        #expect(ending.aborted == .notRegistered(missing: 1, timeout: .seconds(5)))
        #expect(ending.aborted?.description == "1 node(s) never registered within 5s (registerTimeout)")
        #expect(ending.measureStart == nil && ending.launchToReadyMs == 5_000)
        #expect(m.wait?.condition == .writerFinished)
    }

    @Test("a signal while nodes register: aborted before the run started")
    func interruptedWhileRegistering() throws {
        var m = Machine(readyTimeout: .seconds(30), warmup: .zero, duration: .seconds(10), registerTimeout: .seconds(5))
        _ = m.begin(now: 0)
        guard case .stopWriter(let ending) = m.interrupted(signal: 15, now: 1 * Self.s, wallNow: 0) else { Issue.record("no stop"); return }
        #expect(ending.aborted == .interruptedBeforeStart(signal: 15))
    }

    @Test("no warm-up: the measured phase starts at the next look, with no wait between")
    func noWarmUp() {
        var m = machine(warmup: .zero)
        _ = m.begin(now: 0)
        _ = m.conditionMet(now: 5 * Self.ms)
        #expect(m.wait?.deadline == 5 * Self.ms)
        #expect(m.deadlinePassed(now: 5 * Self.ms, wallNow: 9) == .startMeasuring(.init(mono: 5 * Self.ms, wall: 9)))
    }

    @Test("not ready in time: aborted with the count; no measured phase; the writer is still stopped and the rest collected")
    func readyTimeout() throws {
        var m = machine()
        _ = m.begin(now: 0)
        let action = m.readyTimedOut(now: 30 * Self.s, missing: 2)
        guard case .stopWriter(let ending) = action else { Issue.record("\(action)"); return }
        #expect(ending.aborted == .notReady(missing: 2, timeout: .seconds(30)))
        #expect(ending.aborted?.description == "2 node(s) not ready after 30s")
        #expect(ending.measureStart == nil && ending.measuredSeconds == 0 && ending.launchToReadyMs == 30_000)
        #expect(m.wait?.condition == .writerFinished)
        #expect(m.deadlinePassed(now: 35 * Self.s, wallNow: 0) == .stopOthers, "a writer that never answers is waited for 5 s at most")
    }

    @Test("a signal before, during the warm-up and during the measured phase: aborted, saying when",
          arguments: [(0, "interrupted (signal 2) before the run started"),
                      (1, "interrupted (signal 2) during warm-up"),
                      (2, "interrupted (signal 2) after 2.5 s")])
    func interrupted(phase: Int, expected: String) throws {
        var m = machine()
        _ = m.begin(now: 0)
        if phase >= 1 { _ = m.conditionMet(now: 1 * Self.s) }
        if phase >= 2 { _ = m.deadlinePassed(now: 2 * Self.s, wallNow: 0) }
        let action = m.interrupted(signal: 2, now: 4_500 * Self.ms, wallNow: 0)
        guard case .stopWriter(let ending) = action else { Issue.record("\(action)"); return }
        #expect(ending.aborted?.description == expected)
        #expect(ending.measuredSeconds == (phase == 2 ? 2.5 : 0))
        #expect(ending.collectStart == 4_500 * Self.ms)
    }

    @Test("a signal after the measured phase cuts the wait in progress short, and the run still finishes")
    func interruptedWhileCollecting() {
        var m = machine()
        _ = m.begin(now: 0)
        _ = m.conditionMet(now: 1 * Self.s)
        _ = m.deadlinePassed(now: 2 * Self.s, wallNow: 0)
        _ = m.deadlinePassed(now: 12 * Self.s, wallNow: 0)
        #expect(m.interrupted(signal: 15, now: 12_100 * Self.ms, wallNow: 0) == .stopOthers)
        #expect(m.interrupted(signal: 15, now: 12_200 * Self.ms, wallNow: 0) == .tearDown)
        _ = m.childrenStopped(now: 13 * Self.s)
        guard case .finish(let timeline) = m.interrupted(signal: 15, now: 13_050 * Self.ms, wallNow: 0) else {
            Issue.record("not finished: \(m.phase)")
            return
        }
        #expect(timeline.ending.aborted == nil, "a signal after the measured phase does not abort the run")
        #expect(timeline.collectMs == 200 && timeline.teardownMs == 850)
    }
}
