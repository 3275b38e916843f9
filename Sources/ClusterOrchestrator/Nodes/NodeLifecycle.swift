/// Where a node is in its life, with what the orchestrator knows in that phase.
///
/// One value replaces the flags a node's state used to be spread over: a
/// process that is expected to end is `.stopping`, a restart is a stop with
/// `relaunch`, a pause is part of the running process's ``Incarnation``.
/// The report's status is derived from it and the node's history
/// (``ManagedNode/status(external:)``).
enum NodeLifecycle: Sendable, Hashable {
    /// Not started: a late joiner whose time has not come, or a node that was never launched.
    case pending
    /// Started (its process runs or, under the external launcher, it is
    /// awaited); it has not said HELLO in this incarnation.
    case launched(Incarnation)
    /// It said HELLO: registered on the control plane, not ready yet.
    case registered(Incarnation)
    /// It said READY; `startSent` once START went to it.
    case ready(Incarnation, startSent: Bool)
    /// Its end is expected: it was told to STOP, or a fault signalled it, or
    /// it is a cpu hog. With `relaunch` (a restart) it is started again once it has ended.
    case stopping(Incarnation, relaunch: Bool)
    /// Its process ended or, under the external launcher, it said BYE.
    /// `finalReceived`: the last incarnation's final dump arrived.
    case exited(finalReceived: Bool)

    /// The running incarnation; nil when pending or exited.
    var incarnation: Incarnation? {
        switch self {
        case .pending, .exited: nil
        case .launched(let i), .registered(let i), .ready(let i, _), .stopping(let i, _): i
        }
    }

    /// The pid of the running process: nil when none runs or others started it.
    var pid: Int32? { incarnation?.pid }

    /// Whether the running (or last) incarnation's final dump arrived.
    var finalReceived: Bool {
        switch self {
        case .pending: false
        case .exited(let received): received
        default: incarnation?.finalReceived ?? false
        }
    }

    /// Whether its process is expected to end (a STOP, a kill, a restart).
    var exitExpected: Bool {
        if case .stopping = self { return true }
        return false
    }

    /// Whether it has said HELLO: it is past `launched` (a node that registered and ended counts).
    var hasRegistered: Bool {
        switch self {
        case .pending, .launched: false
        case .registered, .ready, .stopping, .exited: true
        }
    }

    /// Whether it said READY and is not stopping.
    var isReady: Bool {
        if case .ready = self { return true }
        return false
    }

    /// Replaces the running incarnation's data; no effect when none runs.
    mutating func updateIncarnation(_ body: (inout Incarnation) -> Void) {
        switch self {
        case .pending, .exited: return
        case .launched(var i): body(&i); self = .launched(i)
        case .registered(var i): body(&i); self = .registered(i)
        case .ready(var i, let sent): body(&i); self = .ready(i, startSent: sent)
        case .stopping(var i, let relaunch): body(&i); self = .stopping(i, relaunch: relaunch)
        }
    }
}

/// One start of a node's process.
struct Incarnation: Sendable, Hashable {
    /// Its pid; nil for a node others started (external launcher), which is never signalled.
    var pid: Int32?
    /// Stopped by a pause fault (SIGSTOP) and not resumed yet.
    var paused = false
    /// Its final dump arrived.
    var finalReceived = false
}
