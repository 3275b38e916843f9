import ClusterCore

/// A message received on the control plane, decoded: the ROUTER side's view
/// of what the nodes' `ControlClient` sends.
enum ControlEvent {
    /// A node says who it is: its name, pid and endpoints. Not yet registered:
    /// the run decides whether it knows the name (``ControlPlane/register(_:as:)``).
    case hello(Clustersim_V1_Hello, identity: [UInt8])
    /// A replica asks for a name of a group (`claim_group`); answered with a Welcome.
    case claim(Clustersim_V1_Hello, identity: [UInt8])
    /// A fault agent says it is there (``ControlPlane/registerAgent(_:)`` takes it).
    case agentHello(Clustersim_V1_AgentHello, identity: [UInt8])
    /// The registered fault agent's answer to a FaultRequest.
    case faultReply(Clustersim_V1_FaultReply)
    /// A message from a registered node.
    case node(String, NodeMessage)
    /// Bytes that are not a control message.
    case malformed(byteCount: Int)
    /// A message with too few frames, from an unregistered sender, or of a kind the orchestrator does not take.
    case ignored
}

/// What a registered node says.
enum NodeMessage {
    case ready
    case stats(Clustersim_V1_Stats)
    case timeReply(Clustersim_V1_TimeReply)
    case final(Clustersim_V1_FinalMetrics)
    case bye(Clustersim_V1_Bye)
}
