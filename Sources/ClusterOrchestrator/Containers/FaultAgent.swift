import ClusterCore
import ClusterProcess
import Foundation
import Logging
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A fault agent: connects to an orchestrator's control plane, says
/// AgentHello, and applies the faults it is asked for to this host's
/// containers (``ContainerFaultActions``), answering each with a FaultReply.
///
/// `orchestrator run --launcher compose|swarm` starts one in the network
/// namespace of the orchestrator's container, so that it reaches the control
/// plane on the loopback; it ends with its parent, on SIGTERM or SIGINT, or
/// when the orchestrator's container is gone.
public final class FaultAgent {
    let endpoint: String
    let engine: String
    let parentPID: Int32?
    let logger: Logger
    /// Under CURVE: the agent's key pair and the control plane's public key.
    let curve: (keys: CurveKeyPair, serverKey: String)?

    /// - Parameters:
    ///   - endpoint: the orchestrator's control plane.
    ///   - engine: what started the containers, `compose` or `swarm` (the run's launcher in its record).
    ///   - parentPID: end when this process is gone.
    ///   - curveKeys: under CURVE, the stack's key directory: the agent's pair
    ///     (`@fault-agent.key_secret`) and the control plane's public key (`peers`).
    /// - Throws: `CurveFileError` naming a key file that cannot be used.
    public init(endpoint: String, engine: String, parentPID: Int32?, curveKeys: String? = nil, logger: Logger) throws {
        curve = try curveKeys.map { try Self.keys(in: $0) }
        self.endpoint = endpoint
        self.engine = engine
        self.parentPID = parentPID
        self.logger = logger
    }

    /// Serves requests until a signal comes or the parent is gone.
    /// - Returns: the exit status: 0, or 2 when the engine's client is missing or the endpoint is bad.
    public func run(signals: ShutdownSignals, environment: [String: String]) -> Int32 {
        guard let docker = DockerCLI(environment: environment) else {
            logger.error("docker is not installed: the fault agent cannot act on containers")
            return 2
        }
        var actions = ContainerFaultActions(docker: docker)
        do {
            let context = try Context()
            let socket = try context.socket(.dealer)
            try socket.setLinger(.seconds(1))
            if let curve {
                try socket.setCurveServerKey(curve.serverKey)
                try socket.setCurvePublicKey(curve.keys.publicKey)
                try socket.setCurveSecretKey(curve.keys.secretKey)
            }
            try socket.connect(endpoint)
            var hello = Clustersim_V1_AgentHello()
            hello.engine = engine
            hello.host = HostInfo.current().hostname
            hello.pid = getpid()
            try send(.agentHello(hello), on: socket)
            logger.info("fault agent connected", metadata: ["control": "\(endpoint)", "engine": "\(engine)"])
            var poller = Poller()
            let socketIndex = poller.add(socket)
            let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
            while true {
                _ = try? poller.poll(timeout: .milliseconds(500))
                if poller.events(at: signalIndex).contains(.readable), signals.take() != nil { return 0 }
                if let parentPID, getppid() != parentPID { return 0 }
                guard poller.events(at: socketIndex).contains(.readable) else { continue }
                while let frame = try? socket.receive(dontWait: true) {
                    guard let m = try? Clustersim_V1_ControlMessage(serializedBytes: frame.bytes),
                          case .faultRequest(let request)? = m.body else { continue }
                    let reply = actions.apply(request)
                    logger.info("fault", metadata: ["action": "\(request.action)", "container": "\(request.container)",
                                                    "applied": "\(reply.applied)", "detail": "\(reply.detail)"])
                    try send(.faultReply(reply), on: socket)
                }
            }
        } catch {
            logger.error("fault agent failed", metadata: ["error": "\(error)"])
            return 2
        }
    }

    /// The agent's key pair and the control plane's public key, from a stack's key directory.
    static func keys(in directory: String) throws -> (keys: CurveKeyPair, serverKey: String) {
        let file = directory + "/" + CurvePeers.faultAgent + RunKeys.secretSuffix
        let pair = try CurveKeyFile.read(file, isKey: CurveKeyPair.isZ85Key, pair: CurveKeyPair.init(secretKey:), publicKeyOf: \.publicKey)
        let peersFile = directory + "/" + RunKeys.peersFileName
        guard let server = try CurvePeers(file: peersFile, isKey: CurveKeyPair.isZ85Key)[CurvePeers.orchestrator] else {
            throw CurveFileError(file: peersFile, "no \(CurvePeers.orchestrator) key: the control plane's")
        }
        return (pair, server)
    }

    private func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, on socket: borrowing Socket) throws {
        var m = Clustersim_V1_ControlMessage()
        m.body = body
        let bytes: [UInt8] = try m.serializedBytes()
        _ = try socket.send(bytes, dontWait: true)
    }
}
