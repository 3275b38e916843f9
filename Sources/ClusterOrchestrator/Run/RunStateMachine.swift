import ClusterCore
import Foundation

/// The phases of a run and what moves it from one to the next, as a value:
/// events go in (`mutating` methods), actions for the loop to perform come
/// out. It does no I/O and reads no clock: times come with the events, so a
/// test can drive it through a whole run.
///
/// A run launches its nodes and, where others start them, waits for every
/// node that starts at once to register (HELLO) within `registerTimeout`;
/// then waits for every one to be READY; warms up; measures for the topology's duration; stops the writer
/// first (its final version bounds every reader's tail loss) and waits for
/// its final dump; stops the rest and collects their dumps; tears the
/// processes down and lets the last messages in; then finishes (dumps, state,
/// report). A readiness timeout or a signal ends the launch, the warm-up or
/// the measured phase early (a registration timeout ends the launch too),
/// and the run is then aborted: the stop,
/// collection and teardown still happen, so the report is partial but whole.
struct RunStateMachine: Sendable {
    /// How long the writer has to send its final dump after STOP.
    static let writerStopWait: UInt64 = 5_000_000_000
    /// How long the other nodes have to send theirs: their drain time (2 s) and 5 s more.
    static let collectWait: UInt64 = 7_000_000_000
    /// After the processes are gone, how long messages still in flight are read.
    static let settleWait: UInt64 = 100_000_000

    let readyTimeout: TimeSpan
    /// Nil when the orchestrator starts the nodes itself (they need not register to be awaited).
    let registerTimeout: TimeSpan?
    let warmup: TimeSpan
    let duration: TimeSpan
    private(set) var phase: Phase = .idle

    /// - Parameter registerTimeout: where others start the nodes, how long all of them have to
    ///   register; `readyTimeout` then counts from the last registration.
    init(readyTimeout: TimeSpan, warmup: TimeSpan, duration: TimeSpan, registerTimeout: TimeSpan? = nil) {
        self.readyTimeout = readyTimeout
        self.registerTimeout = registerTimeout
        self.warmup = warmup
        self.duration = duration
    }

    /// Where the run is, each phase with what is known by then (monotonic nanoseconds).
    enum Phase: Sendable, Hashable {
        case idle
        /// Others start the nodes; those that start at once have until `deadline` to register (HELLO).
        case registering(since: UInt64, deadline: UInt64)
        /// The nodes that start at once were launched at `since`; they have until `deadline` to be READY.
        case launching(since: UInt64, deadline: UInt64)
        /// All ready after `launchToReadyMs`; the measured phase begins at `until`.
        case warmingUp(launchToReadyMs: Double, until: UInt64)
        /// The measured phase, from `start` until `until`.
        case measuring(launchToReadyMs: Double, start: MeasureStart, until: UInt64)
        /// STOP went to the writer; its final dump is awaited until `deadline`.
        case stoppingWriter(Ending, deadline: UInt64)
        /// STOP went to the rest; their final dumps are awaited until `deadline`.
        case collecting(Ending, deadline: UInt64)
        /// The processes are being stopped and reaped.
        case tearingDown(Ending, collectMs: Double, since: UInt64)
        /// The processes are gone; messages still in flight are read until `until`.
        case settling(Ending, collectMs: Double, teardownStart: UInt64, until: UInt64)
        case finished(RunTimeline)
    }

    /// When the measured phase began: monotonic for the run's clock, wall for START.
    struct MeasureStart: Sendable, Hashable {
        var mono: UInt64
        var wall: UInt64
    }

    /// How the launch and the measured phase went, known once the measured phase is over.
    struct Ending: Sendable, Hashable {
        var launchToReadyMs: Double
        /// Nil when the measured phase never began.
        var measureStart: MeasureStart?
        var measuredSeconds: Double
        var aborted: AbortReason?
        /// When the writer was told to stop: the collection's start.
        var collectStart: UInt64
    }

    /// What the run's record needs of its phases.
    struct RunTimeline: Sendable, Hashable {
        var ending: Ending
        var collectMs: Double
        var teardownMs: Double
    }

    /// Why a run ended before its time.
    enum AbortReason: Sendable, Hashable, CustomStringConvertible {
        case notRegistered(missing: Int, timeout: TimeSpan)
        case notReady(missing: Int, timeout: TimeSpan)
        /// A node that starts at once ended before it was ready: waiting longer cannot help.
        case endedBeforeReady(node: String, how: String)
        case interruptedBeforeStart(signal: Int32)
        case interruptedDuringWarmUp(signal: Int32)
        case interruptedWhileMeasuring(signal: Int32, afterSeconds: Double)

        var description: String {
            switch self {
            case .notRegistered(let missing, let timeout): "\(missing) node(s) never registered within \(timeout) (registerTimeout)"
            case .notReady(let missing, let timeout): "\(missing) node(s) not ready after \(timeout)"
            case .endedBeforeReady(let node, let how): "\(node) ended before it was ready (\(how))"
            case .interruptedBeforeStart(let s): "interrupted (signal \(s)) before the run started"
            case .interruptedDuringWarmUp(let s): "interrupted (signal \(s)) during warm-up"
            case .interruptedWhileMeasuring(let s, let t): "interrupted (signal \(s)) after \(String(format: "%.1f", t)) s"
            }
        }
    }

    /// What the loop waits for in the current phase: a condition on the nodes, a deadline, or both.
    struct Wait: Sendable, Hashable {
        var deadline: UInt64
        var condition: Condition?
    }

    /// A condition on the nodes, checked by the loop on every turn.
    enum Condition: Sendable, Hashable {
        /// Every node that starts at once said HELLO.
        case startersRegistered
        /// Every node that starts at once said READY.
        case startersReady
        /// The writer has ended or sent its final dump.
        case writerFinished
        /// Every node has ended or sent its final dump.
        case allFinished
    }

    /// What the loop does next.
    enum Action: Sendable, Hashable {
        /// Launch the nodes that start at once.
        case launchStarters
        /// Every starter registered: say so.
        case announceRegistered(launchToRegisteredMs: Double)
        /// Every starter is ready: say so.
        case announceReady(launchToReadyMs: Double)
        /// Send START to every ready node; the measured phase runs from `start`.
        case startMeasuring(MeasureStart)
        /// The measured phase is over (or never came): report how it ended, resume paused nodes, STOP the writer.
        case stopWriter(Ending)
        /// STOP the other nodes, with the writer's final version.
        case stopOthers
        /// Stop and reap every process, then call ``childrenStopped(now:)``.
        case tearDown
        /// Write the dumps, the run's state and the report.
        case finish(RunTimeline)
        case none
    }
}

// MARK: - Events

extension RunStateMachine {
    /// The run starts: the loop launches the starters.
    mutating func begin(now: UInt64) -> Action {
        precondition(phase == .idle, "begin() once, first")
        if let registerTimeout {
            phase = .registering(since: now, deadline: now + registerTimeout.nanoseconds)
        } else {
            phase = .launching(since: now, deadline: now + readyTimeout.nanoseconds)
        }
        return .launchStarters
    }

    /// What the loop waits for now; nil once the run is finished.
    var wait: Wait? {
        switch phase {
        case .idle, .tearingDown, .finished: nil
        case .registering(_, let deadline): Wait(deadline: deadline, condition: .startersRegistered)
        case .launching(_, let deadline): Wait(deadline: deadline, condition: .startersReady)
        case .warmingUp(_, let until), .measuring(_, _, let until), .settling(_, _, _, let until): Wait(deadline: until)
        case .stoppingWriter(_, let deadline): Wait(deadline: deadline, condition: .writerFinished)
        case .collecting(_, let deadline): Wait(deadline: deadline, condition: .allFinished)
        }
    }

    /// The measured phase's start, once it has begun (it stays known after it ended).
    var measureStart: MeasureStart? {
        switch phase {
        case .measuring(_, let start, _): start
        case .stoppingWriter(let e, _), .collecting(let e, _), .tearingDown(let e, _, _), .settling(let e, _, _, _): e.measureStart
        case .finished(let timeline): timeline.ending.measureStart
        case .idle, .registering, .launching, .warmingUp: nil
        }
    }

    /// Whether the processes are being stopped by the orchestrator itself, or are gone: every node's end is expected.
    var isTearingDown: Bool {
        switch phase {
        case .tearingDown, .settling, .finished: true
        default: false
        }
    }

    /// Whether the measured phase runs now (START goes to nodes as they become ready; faults and late joiners are due).
    var isMeasuring: Bool {
        if case .measuring = phase { return true }
        return false
    }

    /// The condition of ``wait`` holds.
    mutating func conditionMet(now: UInt64) -> Action {
        switch phase {
        case .registering(let since, _):
            phase = .launching(since: since, deadline: now + readyTimeout.nanoseconds)
            return .announceRegistered(launchToRegisteredMs: Double(now - since) / 1e6)
        case .launching(let since, _):
            phase = .warmingUp(launchToReadyMs: Double(now - since) / 1e6, until: now + warmup.nanoseconds)
            return .announceReady(launchToReadyMs: Double(now - since) / 1e6)
        case .stoppingWriter(let e, _):
            phase = .collecting(e, deadline: now + Self.collectWait)
            return .stopOthers
        case .collecting(let e, _):
            phase = .tearingDown(e, collectMs: Double(now - e.collectStart) / 1e6, since: now)
            return .tearDown
        default:
            preconditionFailure("no condition is awaited in \(phase)")
        }
    }

    /// The deadline of ``wait`` passed. A registration or readiness timeout goes through
    /// ``registerTimedOut(now:missing:)`` or ``readyTimedOut(now:missing:)`` instead.
    mutating func deadlinePassed(now: UInt64, wallNow: UInt64) -> Action {
        switch phase {
        case .warmingUp(let readyMs, _):
            let start = MeasureStart(mono: now, wall: wallNow)
            phase = .measuring(launchToReadyMs: readyMs, start: start, until: now + duration.nanoseconds)
            return .startMeasuring(start)
        case .measuring(let readyMs, let start, _):
            return endMeasuring(now: now, ending: Ending(launchToReadyMs: readyMs, measureStart: start,
                                                         measuredSeconds: Double(now - start.mono) / 1e9, aborted: nil, collectStart: now))
        case .stoppingWriter, .collecting:
            return conditionMet(now: now)
        case .settling(let e, let collectMs, let teardownStart, _):
            let timeline = RunTimeline(ending: e, collectMs: collectMs, teardownMs: Double(now - teardownStart) / 1e6)
            phase = .finished(timeline)
            return .finish(timeline)
        default:
            preconditionFailure("no deadline is awaited in \(phase)")
        }
    }

    /// The starters had not all registered by the deadline: the run is aborted.
    mutating func registerTimedOut(now: UInt64, missing: Int) -> Action {
        guard case .registering(let since, _) = phase, let registerTimeout else {
            preconditionFailure("registerTimedOut() while \(phase)")
        }
        return endMeasuring(now: now, ending: Ending(launchToReadyMs: Double(now - since) / 1e6, measureStart: nil, measuredSeconds: 0,
                                                     aborted: .notRegistered(missing: missing, timeout: registerTimeout),
                                                     collectStart: now))
    }

    /// The starters were not all ready by the deadline: the run is aborted.
    mutating func readyTimedOut(now: UInt64, missing: Int) -> Action {
        guard case .launching(let since, _) = phase else { preconditionFailure("readyTimedOut() while \(phase)") }
        return endMeasuring(now: now, ending: Ending(launchToReadyMs: Double(now - since) / 1e6, measureStart: nil, measuredSeconds: 0,
                                                     aborted: .notReady(missing: missing, timeout: readyTimeout), collectStart: now))
    }

    /// A node that starts at once ended (or failed to launch) before it was
    /// READY: the run is aborted at once rather than after the readiness timeout.
    mutating func starterEnded(node: String, how: String, now: UInt64) -> Action {
        guard case .launching(let since, _) = phase else { return .none }
        return endMeasuring(now: now, ending: Ending(launchToReadyMs: Double(now - since) / 1e6, measureStart: nil, measuredSeconds: 0,
                                                     aborted: .endedBeforeReady(node: node, how: how), collectStart: now))
    }

    /// SIGINT or SIGTERM arrived. Before or during the measured phase the run
    /// is aborted and stops at once; afterwards the wait in progress ends early.
    mutating func interrupted(signal: Int32, now: UInt64, wallNow: UInt64) -> Action {
        switch phase {
        case .registering(let since, _), .launching(let since, _):
            return endMeasuring(now: now, ending: Ending(launchToReadyMs: Double(now - since) / 1e6, measureStart: nil, measuredSeconds: 0,
                                                         aborted: .interruptedBeforeStart(signal: signal), collectStart: now))
        case .warmingUp(let readyMs, _):
            return endMeasuring(now: now, ending: Ending(launchToReadyMs: readyMs, measureStart: nil, measuredSeconds: 0,
                                                         aborted: .interruptedDuringWarmUp(signal: signal), collectStart: now))
        case .measuring(let readyMs, let start, _):
            let seconds = Double(now - start.mono) / 1e9
            return endMeasuring(now: now, ending: Ending(launchToReadyMs: readyMs, measureStart: start, measuredSeconds: seconds,
                                                         aborted: .interruptedWhileMeasuring(signal: signal, afterSeconds: seconds),
                                                         collectStart: now))
        case .stoppingWriter, .collecting, .settling:
            return deadlinePassed(now: now, wallNow: wallNow)
        case .idle, .tearingDown, .finished:
            return .none
        }
    }

    /// Every process was stopped and reaped (after ``Action/tearDown``).
    mutating func childrenStopped(now: UInt64) -> Action {
        guard case .tearingDown(let e, let collectMs, let since) = phase else { preconditionFailure("childrenStopped() while \(phase)") }
        phase = .settling(e, collectMs: collectMs, teardownStart: since, until: now + Self.settleWait)
        return .none
    }

    private mutating func endMeasuring(now: UInt64, ending: Ending) -> Action {
        phase = .stoppingWriter(ending, deadline: now + Self.writerStopWait)
        return .stopWriter(ending)
    }
}
