/// Why a node's process could not be started.
public struct SpawnError: CodedError, Hashable {
    public typealias Code = ErrorCode<SpawnError>
    public let code: Code
    /// The errno `open` or `posix_spawn` returned.
    public let errno: Int32
    /// What could not be done and why, as shown to the user.
    public let message: String

    public init(_ code: Code, errno: Int32, _ message: String) {
        (self.code, self.errno, self.message) = (code, errno, message)
    }
}

extension ErrorCode<SpawnError> {
    /// The node's log file could not be opened.
    public static let logFile = Self("log-file")
    /// `posix_spawn` failed: the executable is missing or not executable, or the system is out of processes.
    public static let spawn = Self("spawn")
}
