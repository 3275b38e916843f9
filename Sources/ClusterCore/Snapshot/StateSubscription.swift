import Synchronization

/// Versions a subscriber lost to overflow, not yet reported to it.
struct MissedVersions: Sendable {
    var first: UInt64
    var last: UInt64
    var count: UInt64

    /// Adds one more lost version (always newer than those before).
    static func adding(_ version: UInt64, to missed: MissedVersions?) -> MissedVersions {
        guard let missed else { return MissedVersions(first: version, last: version, count: 1) }
        return MissedVersions(first: missed.first, last: version, count: missed.count + 1)
    }
}

/// One subscriber's buffer and waiting consumer, shared by the store (which
/// fills it) and the subscription's iterator (which drains it).
final class SubscriberBox: Sendable {
    struct State: Sendable {
        /// Snapshots not yet taken by the consumer, oldest first. When it is
        /// full the oldest is dropped: a late subscriber still converges on
        /// the newest state.
        var buffer: RingBuffer<Snapshot>
        /// Versions dropped right before the buffer's first snapshot.
        var missedBeforeFirst: MissedVersions?
        /// The consumer suspended on an empty buffer.
        var waiter: UnsafeContinuation<Void, Never>?
        var finished = false
        var enqueued: UInt64 = 0
        var overflowed: UInt64 = 0
        var lastVersion: UInt64 = 0
    }

    let id: SubscriberID
    let bufferSize: Int
    let subscribedAt: UInt64
    let state: Mutex<State>

    init(id: SubscriberID, bufferSize: Int, first: Snapshot?) {
        self.id = id
        self.bufferSize = bufferSize
        subscribedAt = SystemClock.monotonicNanos()
        var state = State(buffer: RingBuffer(capacity: bufferSize))
        if let first {
            state.buffer.append(first)
            state.enqueued = 1
            state.lastVersion = first.version
        }
        self.state = Mutex(state)
    }

    /// Places `snapshot` in the buffer, dropping the oldest when it is full.
    ///
    /// - Returns: the consumer to resume (outside any lock), and whether a
    ///   snapshot was dropped.
    func enqueue(_ snapshot: Snapshot) -> (waiter: UnsafeContinuation<Void, Never>?, dropped: Bool) {
        state.withLock { s in
            guard !s.finished else { return (nil, false) }
            let evicted = s.buffer.appendEvicting(snapshot)
            if let evicted {
                s.missedBeforeFirst = .adding(evicted.version, to: s.missedBeforeFirst)
                s.overflowed += 1
            }
            s.enqueued += 1
            s.lastVersion = snapshot.version
            let waiter = s.waiter
            s.waiter = nil
            return (waiter, evicted != nil)
        }
    }

    /// Marks the subscription finished; the consumer drains what is buffered,
    /// then ends. Returns false when it was finished already.
    func finish() -> Bool {
        let (wasFinished, waiter) = state.withLock { s in
            let result = (s.finished, s.waiter)
            s.finished = true
            s.waiter = nil
            return result
        }
        waiter?.resume()
        return !wasFinished
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    var info: SubscriberInfo {
        state.withLock { s in
            SubscriberInfo(
                id: id, bufferSize: bufferSize, buffered: s.buffer.count, enqueued: s.enqueued,
                overflowed: s.overflowed, lastVersion: s.lastVersion, subscribedAtMonotonicNanos: subscribedAt)
        }
    }
}

/// A subscription to a store: an asynchronous sequence of ``Delivery``
/// values, beginning with the store's current snapshot (when it has one),
/// then every snapshot stored after, in version order.
///
/// Each subscription has a bounded buffer. When its consumer falls behind,
/// the oldest buffered snapshot is dropped, and the next delivery says which
/// versions were lost (``Delivery/missed``, ``Delivery/missedCount``); the
/// store counts them too. Nothing is lost silently.
///
/// The iterator takes everything buffered in one lock acquisition and only
/// suspends when the buffer is empty, so a consumer that falls behind pays one
/// wake-up per batch, not per snapshot. Iterate a subscription from one task
/// at a time. It ends after ``StateStore/unsubscribe(_:)`` or
/// ``StateStore/cleanup()`` (once the buffered snapshots are taken), or when
/// the iterating task is cancelled. Dropping the last reference to a
/// subscription unsubscribes it.
public final class StateSubscription: AsyncSequence, Sendable {
    public typealias Element = Delivery
    public typealias Failure = Never

    public var id: SubscriberID { box.id }
    public var bufferSize: Int { box.bufferSize }
    let box: SubscriberBox
    private let core: StateStoreCore

    init(box: SubscriberBox, core: StateStoreCore) {
        self.box = box
        self.core = core
    }

    deinit {
        if !box.isFinished { core.unsubscribe(id: box.id) }
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = Delivery
        public typealias Failure = Never

        private let subscription: StateSubscription
        /// A batch taken from the box, swapped with the box's (then empty)
        /// buffer so that taking it costs no copy and no allocation.
        private var batch: RingBuffer<Snapshot>
        private var missed: MissedVersions?

        init(subscription: StateSubscription) {
            self.subscription = subscription
            batch = RingBuffer(capacity: subscription.box.bufferSize)
        }

        public mutating func next() async -> Delivery? {
            await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> Delivery? {
            while true {
                if let snapshot = batch.popFirst() {
                    defer { missed = nil }
                    guard let missed else { return Delivery(snapshot: snapshot) }
                    return Delivery(snapshot: snapshot, missed: missed.first...missed.last, missedCount: missed.count)
                }
                if Task.isCancelled { return nil }
                let box = subscription.box
                let finished = box.state.withLock { s in
                    guard s.buffer.isEmpty else {
                        swap(&s.buffer, &batch)
                        missed = s.missedBeforeFirst
                        s.missedBeforeFirst = nil
                        return false
                    }
                    return s.finished
                }
                if finished { return nil }
                if batch.isEmpty { await Self.waitForSnapshots(in: box) }
            }
        }

        /// Suspends until the box has snapshots, is finished, or the task is
        /// cancelled.
        private static func waitForSnapshots(in box: SubscriberBox) async {
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let resumeNow = box.state.withLock { s in
                        if !s.buffer.isEmpty || s.finished || Task.isCancelled { return true }
                        precondition(s.waiter == nil, "a subscription was iterated from two tasks at once")
                        s.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = box.state.withLock { s in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume()
            }
        }
    }
}
