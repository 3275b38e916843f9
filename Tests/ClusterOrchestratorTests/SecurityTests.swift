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
        let keys = try RunKeys.create(nodes: ["writer", "cli-1", "q-load"], in: parent, run: "t")
        #expect(Self.mode(keys.directory) == 0o700)
        let peersText = try String(contentsOfFile: keys.files(for: "writer").peersFile, encoding: .utf8)
        let peers = try CurvePeers(parsing: peersText, file: "peers", isKey: { $0.utf8.count == 40 })
        #expect(peers.entries.map(\.name) == [CurvePeers.orchestrator, "writer", "cli-1", "q-load"])
        #expect(peers[CurvePeers.orchestrator] == keys.orchestrator.publicKey)
        #expect(!peersText.contains(keys.orchestrator.secretKey), "the control plane's secret key is in the peers file")
        var secrets: [String] = [keys.orchestrator.secretKey]
        for node in ["writer", "cli-1", "q-load"] {
            let file = keys.files(for: node).keyFile
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
        #expect(throws: CurveFileError.self) { try RunKeys.create(nodes: ["writer"], in: parent, run: "t") }
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
        let keys = try RunKeys.create(nodes: topology.nodes.map(\.name) + ["query-load"], in: dir, run: "p")
        let plan = RunPlan(topology: topology, network: nil, ipcDirectory: dir, directory: run, ownsProcesses: true, keys: keys)
        for node in plan.nodes.nodes {
            let args = node.plan.command.arguments
            #expect(args.contains("--security") && args.contains(keys.files(for: node.name).keyFile), "\(node.name): \(args)")
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
        let control = try ControlPlane(bind: "tcp://127.0.0.1:*",
                                       curve: (orchestrator, [cli1.publicKey: "cli-1", cli2.publicKey: "cli-2"]), maxMessageBytes: 1 << 20)
        let context = try Context()
        let dealer = try context.socket(.dealer)
        try dealer.setLinger(.zero)
        try dealer.setCurveServerKey(orchestrator.publicKey)
        try dealer.setCurvePublicKey(cli1.publicKey)
        try dealer.setCurveSecretKey(cli1.secretKey)
        try dealer.connect(control.endpoint)
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

    @Test("compose files refuse a CURVE topology, saying why and what to do")
    func composeRefusesCurve() throws {
        let topology = Topology(name: "c", writer: WriterSpec(rate: 10), readers: [ReaderGroup(role: .cli)],
                                security: SecuritySpec(mode: .curve))
        let generator = ComposeGenerator(topology: topology, topologySource: "c.json", image: nil, buildContext: ".", invocation: "test")
        let error = try #require(throws: ComposeError.self) { try generator.generate() }
        #expect(error.code == .securityNotSupported && error.message.contains("docs/security.md"))
    }
}
