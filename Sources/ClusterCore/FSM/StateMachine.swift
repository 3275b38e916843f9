/// The writer's state machine: a value type that does no I/O.
///
/// The caller feeds it events and acts on the returned ``Transition`` (for
/// example by storing the next ``Snapshot``); an illegal event is rejected,
/// counted, and leaves the state unchanged.
public struct StateMachine: Sendable {
    /// The current state.
    public private(set) var state: FSMState

    /// Consecutive recovery attempts: every `recover` or `retry` out of
    /// `ERROR_STATE` adds one; reaching `ACTIVE` (success) or booting from
    /// `UNSPECIFIED`/`SHUTDOWN` (a fresh start) resets it to zero.
    public private(set) var attemptCount: UInt32 = 0

    /// How often each legal transition happened, keyed `"FROM->TO"`
    /// (e.g. `"IDLE->ACTIVE"`).
    public private(set) var transitionsByKind: [String: UInt64] = [:]

    /// How many events were rejected as illegal.
    public private(set) var illegalEvents: UInt64 = 0

    public init(state: FSMState = .unspecified) {
        self.state = state
    }

    /// Applies `event` to the machine.
    ///
    /// - Returns: the transition taken, or ``IllegalTransition`` when the
    ///   table does not allow `event` in the current state; then the state is
    ///   unchanged and ``illegalEvents`` grows by one.
    public mutating func apply(_ event: FSMEvent) -> Result<Transition, IllegalTransition> {
        guard let transition = TransitionTable.transition(from: state, on: event) else {
            illegalEvents += 1
            return .failure(
                IllegalTransition(
                    state: state, event: event,
                    reason: "event '\(event.rawValue)' is not allowed in state \(state.name)"))
        }
        switch (transition.from, transition.to) {
        case (.errorState, _):
            attemptCount &+= 1
        case (_, .active), (.unspecified, .booting), (.shutdown, .booting):
            attemptCount = 0
        default:
            break
        }
        state = transition.to
        transitionsByKind[transition.kind, default: 0] += 1
        return .success(transition)
    }
}
