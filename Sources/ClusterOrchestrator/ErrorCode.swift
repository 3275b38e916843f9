/// What failed, for an error of type `Owner`: a name that stays when a
/// message's wording changes, for callers and tests to match on.
public struct ErrorCode<Owner>: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}

/// An orchestrator error: a code saying what failed, and the message the
/// user is shown, which says what to do where there is something to do.
public protocol CodedError: Error, CustomStringConvertible, Sendable {
    var code: ErrorCode<Self> { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { message }
}
