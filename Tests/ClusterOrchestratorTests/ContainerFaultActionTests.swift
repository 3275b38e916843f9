import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

@Suite("container fault agent: requests checked before any container is touched")
struct ContainerFaultActionTests {
    func request(_ action: FaultAction, loss: Double = 0, bandwidth: String = "") -> Clustersim_V1_FaultRequest {
        var r = Clustersim_V1_FaultRequest()
        r.id = 7
        r.action = action.rawValue
        r.container = "clustersim-no-such-container"
        r.peers = ["writer"]
        r.loss = loss
        r.bandwidth = bandwidth
        return r
    }

    @Test func lossOutsideAFractionIsRefused() throws {
        for loss in [0, -0.5, 1.5, .nan, .infinity] {
            let why = try #require(ContainerFaultActions.invalid(request(.loss, loss: loss)), "loss \(loss)")
            #expect(why.contains("is not a fraction more than 0 and at most 1"))
        }
        #expect(ContainerFaultActions.invalid(request(.loss, loss: 0.25)) == nil)
        #expect(ContainerFaultActions.invalid(request(.loss, loss: 1)) == nil)
        // A partition carries no loss: zero is its value, not an error.
        #expect(ContainerFaultActions.invalid(request(.partition)) == nil)
    }

    @Test func bandwidthMustBeARate() throws {
        for rate in ["", "fast", "-1mbit", "1 mbit", "0kbit", "1mbit; reboot"] {
            #expect(ContainerFaultActions.invalid(request(.bandwidth, bandwidth: rate)) == "bad rate \(rate)")
        }
        #expect(ContainerFaultActions.invalid(request(.bandwidth, bandwidth: "512kbit")) == nil)
    }

    /// The check comes first: a bad request is refused for what it is, not for
    /// the container it names (which does not exist here, so an engine call
    /// would have answered "no container").
    @Test func applyRefusesABadRequestBeforeAskingTheEngine() throws {
        let docker = try #require(DockerCLI(environment: [:]), "the docker client (scripts/setup.sh installs docker.io)")
        var actions = ContainerFaultActions(docker: docker)
        let reply = actions.apply(request(.loss, loss: .nan))
        #expect(reply.id == 7 && !reply.applied)
        #expect(reply.detail == "loss nan is not a fraction more than 0 and at most 1")
    }
}
