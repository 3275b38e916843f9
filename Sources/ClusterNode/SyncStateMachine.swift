import ClusterCore

/// The reader's Clone-pattern decisions: when to ask the writer's snapshot
/// service for the current snapshot and why, when updates are held and
/// replayed, when a snail reconnects, and when READY is due.
///
/// A value with no I/O. Each event method updates the state and returns the
/// ``Action`` the reader must take now; what the reader can only do later is
/// left in the state for it to act on where it can: a decided request is
/// sent on the next aux turn (``requestToSend(at:)``, when the snapshot
/// DEALER is at hand), a reconnect after the frame in hand (``reconnectDue``).
///
/// Four regions vary independently, each an enum of its own (one enum would
/// be their product: a resync request can be in flight while a snail expects
/// its jump, or while the start snapshot is still owed):
/// - ``Phase``: the start of the exchange. Updates are held until the start
///   snapshot is applied, then replayed after it.
/// - ``Jump``: snail recovery. Reconnect, then take the first update's jump
///   as skipped and ask for a snapshot.
/// - ``Fetch``: the one snapshot request there may be at a time. A trigger
///   that finds one decided or in flight asks for nothing.
/// - ``Readiness``: READY once a heartbeat proved the subscription and no
///   answer is awaited, or 3 s after the start whatever happened.
struct SyncStateMachine {
    /// The start of the Clone exchange.
    enum Phase: UInt8 {
        /// Nothing received yet: updates are held, and the first heartbeat
        /// or update asks for the start snapshot.
        case awaitingFirstFrame
        /// The start snapshot was asked for (an answer without one leaves it
        /// here); updates are held until it is applied or given up on.
        case holdingForStart
        /// Updates are applied as they come.
        case live
        /// Live after giving up before any frame came: the first heartbeat
        /// (not an update) still asks for the start snapshot.
        case liveStartUnasked
    }

    /// snail recovery.
    enum Jump: UInt8 {
        case none
        /// The lag went over the limit: the SUB socket is to be replaced.
        case reconnectDue
        /// Reconnected: the next update's jump is the policy's choice, skipped, not lost.
        case expected
    }

    /// READY.
    enum Readiness: UInt8 {
        case awaitingHeartbeat
        /// A heartbeat came: the subscription is in place.
        case heartbeatSeen
        case sent
    }

    /// A snapshot request.
    struct Request: Equatable {
        var id: UInt64
        var trigger: SnapshotTrigger
        /// When its trigger happened (monotonic, and wall-clock ns): convergence is timed from it.
        var triggerMono: UInt64
        var triggerWall: UInt64
        /// When it was sent (monotonic ns); 0 until then.
        var sentMono: UInt64 = 0
    }

    /// The snapshot request, if any.
    enum Fetch: Equatable {
        case idle
        /// Decided; sent on the next aux turn.
        case asking(Request)
        /// Sent; its answer is awaited.
        case awaiting(Request)
    }

    enum Action: Equatable {
        case none
        /// Replay the held updates in order (those at or below an applied snapshot's version are stale).
        case replayHeld
        /// Apply the snapshot that answered `request`, then replay the held updates if told so.
        case applySnapshot(Request, thenReplayHeld: Bool)
        /// Send the request on the snapshot DEALER.
        case sendRequest(Request)
        /// Say READY.
        case sendReady
    }

    /// Updates held at most while the start snapshot is awaited.
    static let heldLimit = 100_000
    /// …or of this many bytes.
    static let heldBytesLimit = MessageLimits.heldUpdatesBytes
    /// How long after the start updates are held at most.
    static let startWaitLimit: UInt64 = 5_000_000_000
    /// How long after the start READY waits for the start snapshot at most.
    static let readyWaitLimit: UInt64 = 3_000_000_000
    /// How long a sent request waits for its answer before it is asked again.
    static let answerTimeout: UInt64 = 1_000_000_000

    /// What only the rare events read, kept behind one pointer: the reader
    /// stores this machine first among the fields of its per-message path
    /// (docs/architecture.md, "Decisions"), where only `phase` and `jump` are read.
    private struct Rare {
        var fetch = Fetch.idle
        var lastID: UInt64 = 0
        let resyncOnGap: Bool
        /// The process's start (monotonic and wall-clock ns): the start snapshot's trigger.
        let startMono: UInt64
        let startWall: UInt64
    }

    private var rare: OutOfLine<Rare>
    private(set) var phase = Phase.awaitingFirstFrame
    private(set) var jump = Jump.none
    private(set) var readiness = Readiness.awaitingHeartbeat

    /// - Parameters:
    ///   - policy: the slow-subscriber policy (`resync` asks for a snapshot on a gap).
    ///   - startMono: the process's start, monotonic ns.
    ///   - startWall: the same instant on the wall clock.
    init(policy: SlowPolicy, startMono: UInt64, startWall: UInt64) {
        rare = OutOfLine(Rare(resyncOnGap: policy == .resync, startMono: startMono, startWall: startWall))
    }

    // MARK: - Read per message

    /// Whether an arriving update is held (the start snapshot first).
    @inline(__always)
    var holdsUpdates: Bool {
        switch phase {
        case .awaitingFirstFrame, .holdingForStart: true
        case .live, .liveStartUnasked: false
        }
    }

    /// Whether the next update's jump is expected (snail, after a reconnect).
    /// Not while the reconnect is still due: the updates that follow then are
    /// the rest of the batch frame in hand, from the old socket.
    @inline(__always)
    var expectsJump: Bool { jump == .expected }

    /// Whether the SUB socket is to be replaced before the next receive.
    @inline(__always)
    var reconnectDue: Bool { jump == .reconnectDue }

    // MARK: - Frames

    /// A heartbeat arrived.
    /// - Parameters:
    ///   - epoch: the heartbeat's epoch.
    ///   - trackerEpoch: the epoch of the updates seen so far (0: none yet).
    ///   - mono: its receive time.
    mutating func heartbeat(epoch: UInt64, trackerEpoch: UInt64, at mono: UInt64) {
        if readiness == .awaitingHeartbeat { readiness = .heartbeatSeen }
        switch phase {
        case .awaitingFirstFrame:
            phase = .holdingForStart
            askForStart()
        case .liveStartUnasked:
            phase = .live
            askForStart()
        case .holdingForStart, .live:
            if epoch > trackerEpoch && trackerEpoch != 0 { ask(.epochChange, at: mono) }
        }
        if expectsJump { ask(.snail, at: mono) }
    }

    /// An update arrived while updates are held, and the reader held it.
    /// - Parameter held: how many are held now.
    /// - Returns: `.replayHeld` when the limit is reached (they are applied
    ///   without the start snapshot), else `.none`.
    mutating func updateHeld(count held: Int, bytes: Int = 0) -> Action {
        if phase == .awaitingFirstFrame {
            // Any frame proves the subscription is in place: ask now.
            phase = .holdingForStart
            askForStart()
        }
        guard held >= Self.heldLimit || bytes >= Self.heldBytesLimit else { return .none }
        return stopHolding() ? .replayHeld : .none
    }

    /// snail: the first update after a reconnect went through the tracker
    /// (whatever its outcome); a snapshot is asked for.
    mutating func jumpTaken(at mono: UInt64) {
        jump = .none
        ask(.snail, at: mono)
    }

    /// The tracker's verdict on an update: a gap asks for a snapshot under
    /// `resync`, a new epoch always does; other outcomes ask for nothing.
    mutating func updateObserved(_ outcome: VersionTracker.Outcome, at mono: UInt64) {
        switch outcome {
        case .gap: if rare.value.resyncOnGap { ask(.gap, at: mono) }
        case .newEpoch: ask(.epochChange, at: mono)
        case .first, .inOrder, .duplicate, .outOfOrder, .stale, .oldEpoch, .implausible: break
        }
    }

    /// snail: an update's latency went over the lag limit. The reader
    /// reconnects after the frame in hand (``reconnectDue``).
    mutating func lagOverLimit() {
        jump = .reconnectDue
    }

    /// snail: the SUB socket was replaced; the next update's jump is expected.
    mutating func reconnected() {
        if jump == .reconnectDue { jump = .expected }
    }

    // MARK: - Aux turns

    /// The snapshot request, if any.
    var fetch: Fetch { rare.value.fetch }

    /// Whether a sent request's answer is awaited.
    var awaitsAnswer: Bool {
        if case .awaiting = fetch { return true }
        return false
    }

    /// Whether a request is decided or awaited (aux turns come every millisecond then).
    var isFetching: Bool { fetch != .idle }

    /// An aux turn, with the snapshot DEALER at hand.
    /// - Parameter mono: now (monotonic ns).
    /// - Returns: `.sendRequest` with the request decided since the last turn, else `.none`.
    mutating func requestToSend(at mono: UInt64) -> Action {
        guard case .asking(var request) = fetch else { return .none }
        request.sentMono = mono
        rare.value.fetch = .awaiting(request)
        return .sendRequest(request)
    }

    /// A snapshot reply arrived.
    /// - Parameters:
    ///   - id: the request it answers.
    ///   - hasSnapshot: whether it holds one.
    /// - Returns: `.applySnapshot` for the answer to the awaited request when
    ///   it holds a snapshot (replaying the held updates after the start
    ///   snapshot); `.none` for a late answer to an abandoned request, and for
    ///   one without a snapshot (the writer has none yet): that request stays
    ///   awaited, so the tick asks again a second after it was sent.
    mutating func snapshotReply(id: UInt64, hasSnapshot: Bool) -> Action {
        guard case .awaiting(let request) = fetch, request.id == id, hasSnapshot else { return .none }
        rare.value.fetch = .idle
        let replay = request.trigger == .start && stopHolding()
        return .applySnapshot(request, thenReplayHeld: replay)
    }

    /// The once-a-second tick: a request unanswered for a second (the writer
    /// is down or restarting) is asked again under a new id, with the same
    /// trigger and trigger time.
    mutating func tick(now: UInt64) {
        guard case .awaiting(let request) = fetch, now > request.sentMono,
              now - request.sentMono > Self.answerTimeout else { return }
        rare.value.fetch = .idle
        ask(request.trigger, triggerMono: request.triggerMono, triggerWall: request.triggerWall)
    }

    /// Whether READY is due.
    /// - Parameter sinceStart: nanoseconds since the process started.
    /// - Returns: `.sendReady` once, after a heartbeat when no answer is
    ///   awaited or more than 3 s after the start; else `.none`.
    mutating func readyCheck(sinceStart: UInt64) -> Action {
        guard readiness == .heartbeatSeen, !awaitsAnswer || sinceStart > Self.readyWaitLimit else { return .none }
        readiness = .sent
        return .sendReady
    }

    /// Whether to stop waiting for the start snapshot.
    /// - Parameter sinceStart: nanoseconds since the process started.
    /// - Returns: `.replayHeld` when updates are still held more than 5 s
    ///   after the start (the reader goes on with updates alone), else `.none`.
    mutating func startWaitCheck(sinceStart: UInt64) -> Action {
        guard holdsUpdates, sinceStart > Self.startWaitLimit else { return .none }
        return stopHolding() ? .replayHeld : .none
    }

    /// The reader stops.
    /// - Returns: `.replayHeld` when updates are held (they are accounted for), else `.none`.
    mutating func stop() -> Action {
        stopHolding() ? .replayHeld : .none
    }

    // MARK: - Private

    /// Ends the holding of updates; a start snapshot not yet asked for stays
    /// owed to the first heartbeat.
    /// - Returns: whether updates were held.
    private mutating func stopHolding() -> Bool {
        switch phase {
        case .awaitingFirstFrame: phase = .liveStartUnasked
        case .holdingForStart: phase = .live
        case .live, .liveStartUnasked: return false
        }
        return true
    }

    /// Asks for the start snapshot, timed from the process's start.
    private mutating func askForStart() {
        ask(.start, triggerMono: rare.value.startMono, triggerWall: rare.value.startWall)
    }

    /// Asks for a snapshot triggered at `mono` (a receive time).
    private mutating func ask(_ trigger: SnapshotTrigger, at mono: UInt64) {
        guard fetch == .idle else { return }
        // The wall time of the trigger, from its monotonic stamp (the per-message path reads only that clock).
        let nowMono = SystemClock.monotonicNanos()
        ask(trigger, triggerMono: mono, triggerWall: SystemClock.wallNanos() &- (nowMono &- min(mono, nowMono)))
    }

    private mutating func ask(_ trigger: SnapshotTrigger, triggerMono: UInt64, triggerWall: UInt64) {
        guard fetch == .idle else { return }
        var r = rare.value
        r.lastID += 1
        r.fetch = .asking(Request(id: r.lastID, trigger: trigger, triggerMono: triggerMono, triggerWall: triggerWall))
        rare.value = r
    }
}

/// A value behind one reference: one pointer where it is stored, a new box
/// for every change (so copies never share a change). For state that is
/// seldom written and must not take room among hot fields.
struct OutOfLine<Value> {
    private final class Box {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private var box: Box

    init(_ value: Value) { box = Box(value) }

    var value: Value {
        get { box.value }
        set { box = Box(newValue) }
    }
}
