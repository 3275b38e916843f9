/// A state of the writer's finite-state machine.
///
/// The raw values are the wire values (`cluster.proto`'s `FsmState`), so they
/// must never be renumbered.
public enum FSMState: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// The zero value: no state has been set yet.
    case unspecified = 0
    case booting = 1
    case idle = 2
    case active = 3
    case errorState = 4
    case shutdown = 5

    /// The upper-case name the original store used, e.g. `"ERROR_STATE"`.
    public var name: String {
        switch self {
        case .unspecified: "UNSPECIFIED"
        case .booting: "BOOTING"
        case .idle: "IDLE"
        case .active: "ACTIVE"
        case .errorState: "ERROR_STATE"
        case .shutdown: "SHUTDOWN"
        }
    }

    /// The state with the given upper-case name, or `nil` when there is none.
    public init?(name: String) {
        guard let state = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = state
    }

    public var description: String { name }
}

/// Something that happens to the writer and may move its state machine.
///
/// The raw values are the spelling used in topology scripts and logs.
public enum FSMEvent: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Start (or restart after a shutdown).
    case boot
    /// Booting finished; the writer is ready for work.
    case bootCompleted = "boot_completed"
    /// Work arrived.
    case activate
    /// Work finished.
    case deactivate
    /// Something went wrong.
    case fail
    /// Leave the error state straight back to idle.
    case recover
    /// Leave the error state by booting again.
    case retry
    /// Stop.
    case shutdown

    public var description: String { rawValue }
}
