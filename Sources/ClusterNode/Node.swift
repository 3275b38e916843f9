import ClusterCore
import ClusterProcess
import Logging

/// The entry points of the node processes: one per kind, each run on a
/// ``NodeRuntime`` from HELLO to FINAL.
public enum Node {
    /// Runs the writer until STOP, SIGTERM/SIGINT, or the configured duration.
    /// - Returns: the process exit status (0 after a clean stop).
    /// - Throws: `ZMQError` when an endpoint cannot be bound (the message names it).
    public static func run(_ config: WriterConfig, logger: Logger, signals: ShutdownSignals) throws -> Int32 {
        try NodeRuntime.run(WriterNode.self, config: config, logger: logger, signals: signals)
    }

    /// Runs a reader until STOP (then drains the tail), SIGTERM/SIGINT or the configured duration.
    /// - Returns: the process exit status.
    /// - Throws: `ZMQError` when an endpoint is invalid, or the log file cannot be opened;
    ///   `CPUAffinityError` when `cpu` is not one the process may run on.
    public static func run(_ config: ReaderConfig, logger: Logger, signals: ShutdownSignals) throws -> Int32 {
        try NodeRuntime.run(ReaderNode.self, config: config, logger: logger, signals: signals)
    }

    /// Runs a relay until STOP, SIGTERM/SIGINT or the configured duration, then forwards what it still holds.
    /// - Returns: the process exit status.
    /// - Throws: `ZMQError` when an endpoint cannot be bound or connected.
    public static func run(_ config: RelayConfig, logger: Logger, signals: ShutdownSignals) throws -> Int32 {
        try NodeRuntime.run(RelayNode.self, config: config, logger: logger, signals: signals)
    }

    /// Runs the query load until STOP, SIGTERM/SIGINT or the configured duration, then waits briefly for
    /// answers in flight.
    /// - Returns: the process exit status.
    /// - Throws: `ZMQError` when a target endpoint is invalid.
    public static func run(_ config: QueryLoadConfig, logger: Logger, signals: ShutdownSignals) throws -> Int32 {
        try NodeRuntime.run(QueryLoadNode.self, config: config, logger: logger, signals: signals)
    }
}
