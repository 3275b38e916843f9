import ClusterCore
import ZeroMQ

/// The fault agent the run talks to: a process where the engine that runs
/// the containers is, which applies faults to them for this orchestrator
/// (docs/protocol.md, "Fault agent").
struct FaultAgentLink: Sendable, Hashable {
    /// What started the containers (`compose`, `swarm`): the run's launcher in its record.
    var engine: String
    var host: String
    var pid: Int32
}

extension RunLoop {
    /// How long a fault request may take: `docker restart` stops the node
    /// (it drains for up to 2 s) before it starts it again.
    static let agentTimeout: UInt64 = 30_000_000_000

    /// Sends `request` to the fault agent and waits for its answer, at most
    /// ``agentTimeout``; what else arrives meanwhile is handled as usual.
    /// - Returns: the reply, or nil when no agent is connected or it did not answer in time.
    func askAgent(_ request: Clustersim_V1_FaultRequest) -> Clustersim_V1_FaultReply? {
        guard agent != nil, control.faultRequest(request) else { return nil }
        var poller = Poller()
        let index = control.add(to: &poller)
        let deadline = SystemClock.monotonicNanos() + Self.agentTimeout
        while true {
            let now = SystemClock.monotonicNanos()
            guard now < deadline else { return nil }
            _ = try? poller.poll(timeout: .nanoseconds(Int64(min(deadline - now, 50_000_000))))
            guard poller.events(at: index).contains(.readable) else { continue }
            while let event = control.receive() {
                if case .faultReply(let reply) = event, reply.id == request.id { return reply }
                handle(event)
            }
        }
    }
}
