import ClusterCore
import Foundation
import Logging

/// Makes the writer's snapshots: FSM events, from the seeded generator or a
/// script, applied to the `StateMachine`, and each resulting snapshot stored
/// in the `StateStoreCore`, whose synchronous sink (the ``Publisher``) sends
/// it as one frame. Keeps the latest snapshot on disk when the writer has a
/// state directory.
final class SnapshotMaker {
    /// Where a writer starts: a new epoch, above any saved one (fencing old
    /// incarnations), and the version line of the saved state if there is one.
    struct Start {
        var epoch: UInt64
        var firstVersion: UInt64 = 1
        var restored: Snapshot?

        /// Reads the saved state, logging what was found.
        init(incarnation: UInt64, file: SnapshotFile?, logger: Logger) {
            epoch = incarnation / 1000
            guard let file else { return }
            switch file.load() {
            case .restored(let s):
                restored = s
                epoch = max(epoch, s.epoch + 1)
                firstVersion = s.version + 1
                logger.info("state restored", metadata: ["version": "\(s.version)", "epoch": "\(s.epoch)", "newEpoch": "\(epoch)"])
            case .missing:
                logger.info("no saved state, starting fresh", metadata: ["dir": "\(file.directory)"])
            case .corrupt(let reason):
                logger.warning("saved state unreadable, starting fresh", metadata: ["reason": "\(reason)"])
            }
        }
    }

    let store = StateStoreCore(configuration: .init(maxSubscribers: 1_000, defaultBufferSize: 1_024, historyLimit: 64))
    let epoch: UInt64
    /// The first version this incarnation published in its epoch (its first snapshot's).
    let firstVersion: UInt64
    private let publisher: Publisher
    private(set) var machine = StateMachine(state: .booting)
    private var generator: EventGenerator
    private var script: EventScript?
    private let historyLimit: Int
    private let stateFile: SnapshotFile?
    private var lastSaved: UInt64 = 0
    private let logger: Logger

    /// Stores the first snapshot (sent by `publisher`) and saves it.
    /// - Throws: when the event script cannot be read.
    init(config: WriterConfig, incarnation: UInt64, publisher: Publisher, logger: Logger) throws {
        self.logger = logger
        self.publisher = publisher
        stateFile = config.stateDirectory.map { SnapshotFile(directory: $0) }
        let start = Start(incarnation: incarnation, file: stateFile, logger: logger)
        epoch = start.epoch
        firstVersion = start.firstVersion
        historyLimit = config.historyLimit
        generator = EventGenerator(seed: config.seed)
        script = try config.scriptPath.map { EventScript(try EventScriptFile.load(path: $0)) }
        let initial = Self.initial(start, writer: config.name, payloadBytes: config.payloadBytes, historyLimit: historyLimit)
        _ = store.addSink { snapshot in publisher.publish(snapshot) }
        _ = store.initializeIfEmpty { initial }
        save(initial)
    }

    private static func initial(_ start: Start, writer: String, payloadBytes: Int, historyLimit: Int) -> Snapshot {
        let payload = Data((0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let (epoch, version, restored) = (start.epoch, start.firstVersion, start.restored)
        return Snapshot(
            version: version, epoch: epoch, state: .booting, prevState: restored?.state ?? .unspecified,
            reason: restored == nil ? "writer started" : "writer restarted from saved state",
            snapshotID: Snapshot.makeID(epoch: epoch, version: version), fsmInstanceID: "fsm-\(writer)-\(epoch)",
            sourceModule: "cluster-node.writer", attemptCount: 0, monotonicNanos: SystemClock.monotonicNanos(),
            wallNanos: SystemClock.wallNanos(), history: Array((restored?.history ?? []).suffix(historyLimit)),
            contextData: payload)
    }

    /// The version of the latest snapshot.
    var version: UInt64 { store.get()?.version ?? 0 }

    /// Makes `count` snapshots, one per due tick.
    /// - Parameter elapsed: nanoseconds since the measured phase began (a script's clock).
    func make(_ count: UInt64, elapsed: UInt64) {
        for _ in 0..<count {
            if script != nil {
                // Scripted: state changes come from the script; other ticks refresh the context.
                let events = script!.due(atNanos: elapsed)
                if events.isEmpty { refresh() } else { events.forEach { apply($0, scripted: true) } }
            } else {
                apply(generator.next(for: machine.state), scripted: false)
            }
        }
    }

    /// Saves the latest snapshot, if it is not saved yet and there is a state directory.
    func saveLatest() {
        if stateFile != nil, let s = store.get() { save(s) }
    }

    /// Applies one event. Generated events are drawn until a legal one, so
    /// every tick publishes one snapshot; the illegal ones are rejected and
    /// counted by the machine.
    private func apply(_ event: FSMEvent, scripted: Bool) {
        var e = event
        for _ in 0..<8 {
            switch machine.apply(e) {
            case .success(let t):
                guard let current = store.get() else { return }
                commit(current.next(after: t, attemptCount: machine.attemptCount, historyLimit: historyLimit))
                return
            case .failure:
                if scripted { refresh(); return }
                e = generator.next(for: machine.state)
            }
        }
        refresh()
    }

    /// A snapshot of the same state with the next version.
    private func refresh() {
        guard let c = store.get() else { return }
        let v = c.version + 1
        commit(Snapshot(
            version: v, epoch: c.epoch, state: c.state, prevState: c.state, reason: "context refresh",
            snapshotID: Snapshot.makeID(epoch: c.epoch, version: v), fsmInstanceID: c.fsmInstanceID,
            sourceModule: c.sourceModule, attemptCount: c.attemptCount, monotonicNanos: SystemClock.monotonicNanos(),
            wallNanos: SystemClock.wallNanos(), history: c.history, contextData: c.contextData))
    }

    private func commit(_ next: Snapshot) {
        let before = SystemClock.monotonicNanos()
        _ = try? store.set(next, enforceVersion: true)
        publisher.recordCommit(nanos: SystemClock.monotonicNanos() - before)
    }

    private func save(_ s: Snapshot) {
        guard let stateFile, s.version != lastSaved else { return }
        do {
            try stateFile.save(s)
            lastSaved = s.version
        } catch {
            logger.error("cannot save state", metadata: ["error": "\(error)"])
        }
    }
}
