import ClusterCore

/// A message received on the control plane, decoded: the ROUTER side's view
/// of what the nodes' `ControlClient` sends.
enum ControlEvent {
    /// A node says who it is: its name, pid and endpoints. Not yet registered:
    /// the run decides whether it takes it (``ControlAdmission/hello(_:holderConnected:heldByProcess:)``).
    /// `connection` is the descriptor of the TCP connection it came over, when libzmq says.
    case hello(Clustersim_V1_Hello, identity: [UInt8], connection: Int32?)
    /// A replica asks for a name of a group (`claim_group`); answered with a Welcome.
    case claim(Clustersim_V1_Hello, identity: [UInt8])
    /// A fault agent says it is there (``ControlPlane/registerAgent(_:)`` takes it).
    case agentHello(Clustersim_V1_AgentHello, identity: [UInt8])
    /// The registered fault agent's answer to a FaultRequest.
    case faultReply(Clustersim_V1_FaultReply)
    /// A message from the peer that registered node `name`.
    case node(String, NodeMessage)
    /// A message refused by what the plane alone can tell: not a control
    /// message, from a peer that registered no name, or of a kind only the
    /// orchestrator sends.
    case refused(ControlRefusal, String)
}

/// What a registered node says.
enum NodeMessage {
    case ready
    case stats(Clustersim_V1_Stats)
    case timeReply(Clustersim_V1_TimeReply)
    case final(Clustersim_V1_FinalMetrics)
    case bye(Clustersim_V1_Bye)

    /// The message's kind, as docs/protocol.md names it.
    var kind: String {
        switch self {
        case .ready: "READY"
        case .stats: "STATS"
        case .timeReply: "TIME_REPLY"
        case .final: "FINAL"
        case .bye: "BYE"
        }
    }
}
