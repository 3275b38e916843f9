/// A legal move of the state machine.
public struct Transition: Sendable, Hashable {
    public let from: FSMState
    public let to: FSMState
    public let event: FSMEvent
    /// Why the machine moved, in words; it becomes the snapshot's `reason`.
    public let reason: String

    public init(from: FSMState, to: FSMState, event: FSMEvent, reason: String) {
        self.from = from
        self.to = to
        self.event = event
        self.reason = reason
    }

    /// The `"FROM->TO"` key under which the machine counts this transition.
    public var kind: String { "\(from.name)->\(to.name)" }
}

/// An event that the state machine rejected because its state does not allow it.
public struct IllegalTransition: Error, Sendable, Hashable, CustomStringConvertible {
    public let state: FSMState
    public let event: FSMEvent
    /// Why the event was rejected, in words.
    public let reason: String

    public init(state: FSMState, event: FSMEvent, reason: String) {
        self.state = state
        self.event = event
        self.reason = reason
    }

    public var description: String { "illegal transition: \(reason)" }
}

/// The writer's transition table: every (state, event) pair is decided here.
///
/// ```
///                 boot            boot_completed        activate
///  UNSPECIFIED ─────────► BOOTING ──────────────► IDLE ◄─────────► ACTIVE
///  SHUTDOWN ──────────────►  │  ▲                  │  ▲  deactivate   │
///                  fail      │  │ retry      fail  │  │ recover       │ fail
///                            ▼  │                  ▼  │               ▼
///                         ERROR_STATE ◄────────────────────────────────┘
///  shutdown: BOOTING, IDLE, ACTIVE, ERROR_STATE ──► SHUTDOWN
/// ```
///
/// Every other pair is illegal. `SHUTDOWN` is not terminal: `boot` restarts
/// the machine, so a generated run can go on for any length.
public enum TransitionTable {
    /// The transition the table allows for `event` in state `from`, or `nil`
    /// when the pair is illegal.
    public static func transition(from: FSMState, on event: FSMEvent) -> Transition? {
        let target: (FSMState, String)? =
            switch (from, event) {
            case (.unspecified, .boot): (.booting, "boot requested")
            case (.shutdown, .boot): (.booting, "restart requested")
            case (.booting, .bootCompleted): (.idle, "boot completed")
            case (.idle, .activate): (.active, "work arrived")
            case (.active, .deactivate): (.idle, "work finished")
            case (.booting, .fail), (.idle, .fail), (.active, .fail): (.errorState, "failure")
            case (.errorState, .recover): (.idle, "recovered")
            case (.errorState, .retry): (.booting, "retrying boot")
            case (.booting, .shutdown), (.idle, .shutdown), (.active, .shutdown), (.errorState, .shutdown):
                (.shutdown, "shutdown requested")
            default: nil
            }
        guard let (to, reason) = target else { return nil }
        return Transition(from: from, to: to, event: event, reason: reason)
    }

    /// Every legal transition, in state then event declaration order.
    public static var all: [Transition] {
        FSMState.allCases.flatMap { state in
            FSMEvent.allCases.compactMap { transition(from: state, on: $0) }
        }
    }

    /// The events `state` allows, in declaration order.
    public static func legalEvents(in state: FSMState) -> [FSMEvent] {
        FSMEvent.allCases.filter { transition(from: state, on: $0) != nil }
    }

    /// The events `state` rejects, in declaration order.
    public static func illegalEvents(in state: FSMState) -> [FSMEvent] {
        FSMEvent.allCases.filter { transition(from: state, on: $0) == nil }
    }
}
