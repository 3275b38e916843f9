#if canImport(Glibc)
import Glibc
#endif

/// Why a node's process could not be started.
public struct SpawnError: Error, Hashable, CustomStringConvertible, Sendable {
    /// Which step failed.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// The node's log file could not be opened.
        public static let logFile = Code(name: "log-file")
        /// `posix_spawn` failed: the executable is missing or not executable, or the system is out of processes.
        public static let spawn = Code(name: "spawn")
        public var description: String { name }
    }

    public let code: Code
    /// The errno `open` or `posix_spawn` returned.
    public let errno: Int32
    /// What could not be done and why, as shown to the user.
    public let message: String
    public var description: String { message }

    public init(_ code: Code, errno: Int32, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }
}
