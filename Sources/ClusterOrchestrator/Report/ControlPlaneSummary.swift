/// What the control plane refused and how its connections ended: report.json's
/// `controlPlane` (docs/protocol.md, §6, "Who may say what").
public struct ControlPlaneSummary: Sendable, Codable, Hashable {
    /// Messages refused, all reasons together.
    public var refused: UInt64
    /// Messages refused by reason (`unknown-peer`, `name-taken`, `malformed`, …); reasons with none are left out.
    public var refusedByReason: [String: UInt64]
    /// Connections to the control ROUTER that ended: every node's at its
    /// end, and those libzmq dropped (a message above `maxMessageBytes`, or not ZMTP).
    public var peerDisconnects: UInt64
    /// The largest message the ROUTER takes (`ZMQ_MAXMSGSIZE`), from the topology.
    public var maxMessageBytes: Int

    public init(refused: UInt64, refusedByReason: [String: UInt64], peerDisconnects: UInt64, maxMessageBytes: Int) {
        self.refused = refused
        self.refusedByReason = refusedByReason
        self.peerDisconnects = peerDisconnects
        self.maxMessageBytes = maxMessageBytes
    }
}
