import ClusterCore
import Foundation
import SwiftProtobuf
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

@testable import ClusterOrchestrator

/// The run's CURVE keys, the nodes' commands under CURVE, and the report's security section.
@Suite("CURVE in the orchestrator")
struct OrchestratorSecurityTests {
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0o7777
    }

    @Test("a run's keys: a 0700 directory, one 0600 secret certificate per node, the public keys beside them; no secret elsewhere")
    func runKeys() throws {
        let parent = NSTemporaryDirectory() + "runkeys-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let keys = try RunKeys.create(holders: ["writer", "cli-1", "q-load"], directory: parent + "/curve", title: "t")
        #expect(Self.mode(keys.directory) == 0o700)
        let peersText = try String(contentsOfFile: keys.files(for: "writer", group: "writer").peersFile, encoding: .utf8)
        let peers = try CurvePeers(parsing: peersText, file: "peers", isKey: { $0.utf8.count == 40 })
        #expect(peers.entries.map(\.name) == [CurvePeers.orchestrator, "writer", "cli-1", "q-load"])
        #expect(peers[CurvePeers.orchestrator] == keys.orchestrator.publicKey)
        #expect(!peersText.contains(keys.orchestrator.secretKey), "the control plane's secret key is in the peers file")
        var secrets: [String] = [keys.orchestrator.secretKey]
        for node in ["writer", "cli-1", "q-load"] {
            let file = keys.files(for: node, group: node).keyFile
            #expect(Self.mode(file) == 0o600, "\(file): mode 0\(String(Self.mode(file), radix: 8))")
            let (publicKey, secretKey) = CurveKeyFile.parse(try String(contentsOfFile: file, encoding: .utf8))
            #expect(publicKey == peers[node])
            let secret = try #require(secretKey)
            #expect(!peersText.contains(secret))
            secrets.append(secret)
        }
        #expect(Set(secrets).count == 4, "every key pair is its own")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: keys.directory))
                == ["peers", "writer.key_secret", "cli-1.key_secret", "q-load.key_secret"])
        // A second run's keys never overwrite a first's.
        #expect(throws: CurveFileError.self) { try RunKeys.create(holders: ["writer"], directory: parent + "/curve", title: "t") }
    }

    @Test("under CURVE every node gets its files; a reader behind a relay expects the relay's key, the load generator its targets'")
    func plannedCommands() throws {
        let topology = try TopologyLoader.parse(Data(#"""
            {"name": "p", "security": {"mode": "curve"}, "writer": {"rate": 10, "ioThreads": 2},
             "readers": [{"role": "relay", "name": "hub"}, {"role": "cli", "name": "far", "via": "hub"},
                         {"role": "query", "count": 2, "load": {"clients": 1, "rate": 5}}]}
            """#.utf8), file: "p.json")
        let dir = NSTemporaryDirectory() + "plan-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try RunDirectory(parent: dir, topology: topology)
        let keys = try RunKeys.create(holders: topology.nodes.map(\.name) + ["query-load"], directory: dir + "/curve", title: "p")
        let plan = RunPlan(topology: topology, network: nil, ipcDirectory: dir, directory: run, ownsProcesses: true, keys: keys)
        for node in plan.nodes.nodes {
            let args = node.plan.command.arguments
            #expect(args.contains("--security") && args.contains(keys.files(for: node.name, group: node.group).keyFile), "\(node.name): \(args)")
            #expect(!args.contains { $0.contains(keys.orchestrator.secretKey) })
        }
        guard case .reader(let far)? = plan.nodes["far"]?.plan.command else { Issue.record("far is not a reader"); return }
        #expect(far.pubNode == "hub")
        let writerArgs = try #require(plan.nodes["writer"]).plan.command.arguments
        #expect(writerArgs.firstIndex(of: "--io-threads").map { writerArgs[$0 + 1] } == "2", "writer.ioThreads: \(writerArgs)")
        guard case .relay(let hub)? = plan.nodes["hub"]?.plan.command else { Issue.record("hub is not a relay"); return }
        #expect(hub.upstreamNode == nil, "the relay subscribes to the writer")
        guard case .queryLoad(let load)? = plan.nodes["query-load"]?.plan.command else { Issue.record("no load generator"); return }
        #expect(load.targetNodes == ["query-1", "query-2"] && load.targets.count == 2)
        // Without keys, nothing changes.
        let plain = RunPlan(topology: topology, network: nil, ipcDirectory: dir, directory: run, ownsProcesses: true)
        #expect(plain.nodes.nodes.allSatisfy { !$0.plan.command.arguments.contains("--security") })
    }

    @Test("the report's security section adds the control plane's and the nodes' refusals; the summary names them")
    func report() {
        let stranger = "n^@0?LU?V/ix$/}QrG{YEJT.QzLF37SRgO^cr9YP"
        let state = SecurityState(mode: "curve", admitted: 5, refusals: [
            ConnectionRefusal(outcome: "key-refused", socket: "control", address: "127.0.0.1", key: stranger, reason: "key not admitted", count: 3),
        ], unrecorded: 0)
        var writer = NodeMetrics(node: "writer", role: .writer, incarnation: 1, startedWallNs: 1)
        writer.counters[.curveAdmitted] = 4
        writer.counters[.curveRefused] = 2
        writer.counters[.handshakeFailed] = 1
        writer.refusals = [
            ConnectionRefusal(outcome: "key-refused", socket: "publish", address: "127.0.0.1", key: stranger, reason: "key not admitted", count: 2),
            ConnectionRefusal(outcome: "handshake-failed", socket: "publish", address: "", key: "", reason: "no CURVE", count: 1),
        ]
        let s = SecurityReport.build(state: state, metrics: ["writer": writer], order: ["writer", "cli-1"])!
        #expect(s.admitted == 9 && s.keysRefused == 5 && s.handshakesFailed == 1 && s.refusedByServer == 0 && s.total == 6)
        #expect(s.refusals.map(\.node) == ["orchestrator", "writer", "writer"])
        let lines = s.lines(limit: 2)
        #expect(lines.count == 3 && lines[0].contains("orchestrator control: key-refused key \(stranger) from 127.0.0.1 ×3"), "\(lines)")
        #expect(SecurityReport.build(state: nil, metrics: ["writer": writer], order: ["writer"]) == nil)
    }

    @Test("a CURVE control plane takes a node's messages only under the name its key was admitted with")
    func namesBoundToKeys() throws {
        let orchestrator = try CurveKeyPair.generate(), cli1 = try CurveKeyPair.generate(), cli2 = try CurveKeyPair.generate()
        // log-1 and log-2, replicas in a stack, speak with their group's key.
        let logGroup = try CurveKeyPair.generate()
        let control = try ControlPlane(
            bind: "tcp://127.0.0.1:*",
            curve: (orchestrator, [cli1.publicKey: "cli-1", cli2.publicKey: "cli-2", logGroup.publicKey: "log"],
                    ["cli-1": "cli-1", "cli-2": "cli-2", "log-1": "log", "log-2": "log"]),
            maxMessageBytes: 1 << 20)
        let context = try Context()
        /// A DEALER on the control plane with a key pair.
        func client(_ keys: CurveKeyPair) throws -> Socket {
            let dealer = try context.socket(.dealer)
            try dealer.setLinger(.zero)
            try dealer.setCurveServerKey(orchestrator.publicKey)
            try dealer.setCurvePublicKey(keys.publicKey)
            try dealer.setCurveSecretKey(keys.secretKey)
            try dealer.connect(control.endpoint)
            return dealer
        }
        let dealer = try client(cli1)
        func hello(_ node: String) throws {
            var m = Clustersim_V1_ControlMessage()
            var h = Clustersim_V1_Hello()
            h.node = node
            m.body = .hello(h)
            try dealer.send(try m.serializedBytes() as [UInt8])
        }
        /// The next event, waiting at most 5 s.
        func next() -> ControlEvent? {
            let deadline = ContinuousClock.now.advanced(by: .seconds(5))
            while ContinuousClock.now < deadline {
                if let e = control.receive() { return e }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return nil
        }
        // cli-1's key says HELLO as cli-2: refused and recorded.
        try hello("cli-2")
        guard case .refused(.keyMismatch, _)? = next() else { Issue.record("a HELLO under another node's name was taken"); return }
        let record = try #require(control.security?.records.first)
        #expect(record.outcome == .keyRefused && record.socket == "control" && record.publicKey == cli1.publicKey
                && record.reason == "a message as cli-2 with the key of cli-1", "\(record)")
        // Under its own name it is taken.
        try hello("cli-1")
        guard case .hello(let h, _, _)? = next() else { Issue.record("cli-1's own HELLO was not taken"); return }
        #expect(h.node == "cli-1" && control.security?.counts.admitted == 1)

        // The group's key: a claim on the group and a HELLO as a replica are taken; as cli-1 it is refused.
        let replica = try client(logGroup)
        func send(_ node: String, claim: String = "") throws {
            var m = Clustersim_V1_ControlMessage()
            var h = Clustersim_V1_Hello()
            h.node = node
            h.claimGroup = claim
            m.body = .hello(h)
            try replica.send(try m.serializedBytes() as [UInt8])
        }
        try send("", claim: "log")
        guard case .claim(let c, _)? = next() else { Issue.record("the group's claim was not taken"); return }
        #expect(c.claimGroup == "log")
        try send("log-2")
        guard case .hello(let r, _, _)? = next() else { Issue.record("a replica's HELLO with its group's key was not taken"); return }
        #expect(r.node == "log-2")
        try send("cli-1")
        guard case .refused(.keyMismatch, let why)? = next() else { Issue.record("the group's key spoke for cli-1"); return }
        #expect(why == "a message as cli-1 with the key of log")
        try send("", claim: "cli")
        guard case .refused(.keyMismatch, _)? = next() else { Issue.record("the log group's key claimed in the cli group"); return }
        // Only the fault agent's key says AgentHello.
        var agent = Clustersim_V1_ControlMessage()
        agent.body = .agentHello(Clustersim_V1_AgentHello())
        try replica.send(try agent.serializedBytes() as [UInt8])
        guard case .refused(.keyMismatch, let agentWhy)? = next() else { Issue.record("a node's key said AgentHello"); return }
        #expect(agentWhy == "a message as \(CurvePeers.faultAgent) with the key of log")
    }

    @Test("the external launcher's hint for a node gives its CURVE options (paths)")
    func externalHint() throws {
        let launcher = ExternalLauncher(controlEndpoint: "tcp://127.0.0.1:5600")
        let args = ["reader", "--name", "far", "--pub-node", "hub", "--security", "curve", "--curve-key", "/k/far.key_secret",
                    "--curve-peers", "/k/peers"]
        let result = try launcher.launch(LaunchRequest(name: "far", executable: "cluster-node", arguments: args, logPath: "/dev/null"))
        guard case .awaitingRegistration(let hint) = result else { Issue.record("\(result)"); return }
        #expect(hint.hasSuffix("--control tcp://127.0.0.1:5600 --pub-node hub --security curve --curve-key /k/far.key_secret --curve-peers /k/peers"),
                "\(hint)")
    }

    @Test("a CURVE stack file: a key pair per service (a replicated group's shared), mounted as secrets; the orchestrator reads its own")
    func composeKeys() throws {
        let topology = try TopologyLoader.parse(Data(#"""
            {"name": "c", "security": {"mode": "curve"}, "writer": {"rate": 10},
             "readers": [{"role": "relay", "name": "hub"}, {"role": "cli", "count": 3, "via": "hub"},
                         {"role": "query", "count": 2, "load": {"clients": 1, "rate": 5}}, {"role": "log"}]}
            """#.utf8), file: "c.json")
        let compose = try ComposeGenerator(topology: topology, topologySource: "c.json", invocation: "test").generate()
        #expect(compose.keyHolders == ["writer", "hub", "cli", "query-1", "query-2", "log-1", "query-load"])
        #expect(compose.keysDirectory == "./c.keys")
        for svc in compose.services {
            #expect(svc.secrets.map(\.source) == ["key-\(svc.name)", "peers"] && svc.secrets.map(\.target) == ["\(svc.name).key_secret", "peers"],
                    "\(svc.name): \(svc.secrets)")
        }
        func value(_ option: String, _ service: String) -> [String] {
            let c = compose.service(named: service)?.command ?? []
            return c.indices.filter { c[$0] == option && $0 + 1 < c.count }.map { c[$0 + 1] }
        }
        #expect(value("--curve-keys", "orchestrator") == ["/run/secrets"])
        #expect(value("--curve-key", "writer") == ["/run/secrets/writer.key_secret"] && value("--curve-peers", "writer") == ["/run/secrets/peers"])
        #expect(value("--claim-name", "cli") == ["cli"] && value("--curve-key", "cli") == ["/run/secrets/cli.key_secret"])
        #expect(value("--pub-node", "cli") == ["hub"], "a replica expects its relay's key")
        #expect(value("--target-node", "query-load") == ["query-1", "query-2"])
        #expect(compose.services.allSatisfy { value("--security", $0.name) == ($0.name == "orchestrator" ? [] : ["curve"]) })
        #expect(compose.yaml.contains("secrets:\n  key-orchestrator:\n    file: \"./c.keys/orchestrator.key_secret\"\n"), "\(compose.yaml)")
        #expect(!compose.yaml.contains("uid:"), "compose v1 ignores a secret's owner and mode, and warns")
        var swarmGenerator = ComposeGenerator(topology: topology, topologySource: "c.json", image: "clustersim:test", forSwarm: true)
        swarmGenerator.keysDirectory = "/k"
        let swarm = try swarmGenerator.generate()
        #expect(swarm.yaml.contains("- source: \"key-writer\"\n        target: \"writer.key_secret\"\n        uid: \"10001\"\n        gid: \"10001\"\n        mode: 256\n"),
                "\(swarm.yaml)")
        #expect(swarm.yaml.contains("  peers:\n    file: \"/k/peers\"\n"))

        // The keys: a 0700 directory, a 0600 certificate per holder and the orchestrator, written anew each time.
        let base = NSTemporaryDirectory() + "stack-keys-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = try #require(try compose.writeKeys(in: base))
        #expect(directory.hasSuffix("/c.keys") && Self.mode(directory) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(Set(names) == Set((["orchestrator"] + compose.keyHolders).map { $0 + ".key_secret" } + ["peers"]))
        #expect(names.allSatisfy { Self.mode(directory + "/" + $0) == 0o600 }, "\(names.map { ($0, Self.mode(directory + "/" + $0)) })")
        let keyed = Orchestrator.keyedNodes(topology)
        let keys = try RunKeys.load(directory: directory, holders: keyed)
        #expect(keys.holders(of: keyed)["cli-2"] == "cli" && keys.holders(of: keyed)["query-2"] == "query-2")
        #expect(keys.files(for: "cli-3", group: "cli").keyFile == directory + "/cli.key_secret")
        let secret = try String(contentsOfFile: directory + "/writer.key_secret", encoding: .utf8)
        #expect(!compose.yaml.contains(CurveKeyFile.parse(secret).secretKey ?? "?"))
        try compose.writeKeys(in: base, faultAgent: true)
        #expect(try String(contentsOfFile: directory + "/writer.key_secret", encoding: .utf8) != secret, "a new file, new keys")
        // The launchers' fault agent: a pair of its own, admitted by the control plane only.
        let withAgent = try RunKeys.load(directory: directory, holders: keyed)
        let agentKey = try #require(withAgent.peers[CurvePeers.faultAgent])
        #expect(withAgent.peers.controlAdmitted[agentKey] == CurvePeers.faultAgent && withAgent.peers.admitted[agentKey] == nil)
        #expect(try FaultAgent.keys(in: directory).serverKey == withAgent.orchestrator.publicKey)
        // A node without a key of its own or its group's is named.
        let missing = try #require(throws: CurveFileError.self) {
            try RunKeys.load(directory: directory, holders: keyed + [("cli-9", "other")])
        }
        #expect(missing.message == "no public key for node cli-9 (nor for its group other)")
        // A directory holding something else is not removed.
        #expect(FileManager.default.createFile(atPath: directory + "/notes.txt", contents: Data()))
        #expect(throws: CurveFileError.self) { try compose.writeKeys(in: base) }
    }
}
