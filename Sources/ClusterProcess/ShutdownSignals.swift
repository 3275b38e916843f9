import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT as a readable file descriptor (`signalfd`).
///
/// The node's poll loop watches the descriptor beside its sockets, so a
/// shutdown request is handled on the loop's own thread, between two
/// messages, with nothing done in an asynchronous signal handler. The signals
/// are blocked in the calling thread and every thread it starts afterwards:
/// create this first thing in `main`, before any thread exists.
public final class ShutdownSignals: @unchecked Sendable {
    /// The descriptor to poll for readability.
    public let fileDescriptor: Int32

    /// Blocks SIGTERM, SIGINT (and SIGPIPE) and opens a signalfd for the first two.
    public init() {
        fileDescriptor = csim_shutdown_signalfd()
        precondition(fileDescriptor >= 0, "signalfd failed: errno \(errno)")
    }

    deinit { close(fileDescriptor) }

    /// Reads a pending signal, if any.
    /// - Returns: the signal number, or nil when none is pending.
    public func take() -> Int32? {
        let sig = csim_signalfd_read(fileDescriptor)
        return sig == 0 ? nil : sig
    }
}
