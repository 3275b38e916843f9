import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The external launcher: nodes started by someone else register themselves.
@Suite("external launcher", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct ExternalLauncherTests {
    @Test("nodes started by hand register, run and are reported like launched ones")
    func nodesStartedByHand() async throws {
        let (dir, file, control, pub, snap) = try await Self.setUp("external", readers: #"{ "role": "cli", "count": 3 }"#)
        let env = ["CLUSTERSIM_TEST_TAG": "external"]
        // The nodes first: they wait for the orchestrator (ZeroMQ reconnects).
        let writer = try Harness.start(Harness.clusterNode, ["writer", "--pub", pub, "--snapshots", snap], environment: env.merging(["CLUSTERSIM_CONTROL": control]) { $1 })
        // cli-2 and cli-3 measure on the wall clock, corrected by the orchestrator's offset
        // estimates; cli-3 reads ZMTP itself (its probes polled beside its own descriptor).
        let readers = try (1...3).map { i in
            try Harness.start(Harness.clusterNode, ["reader", "--name", "cli-\(i)", "--pub", pub, "--snapshots", snap, "--control", control]
                              + (i >= 2 ? ["--clock", "wall"] : []) + (i == 3 ? ["--subscriber", "direct"] : []), environment: env)
        }
        let r = try await Harness.run(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--control-bind", control],
                                      timeout: 60, environment: env)
        let nodes = [writer] + readers
        let exits = try await offPool { nodes.map { Harness.wait($0.0, $0.1, $0.2, timeout: 10).status } }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(exits == [0, 0, 0, 0], "nodes exited with \(exits)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        let rep = try RunReport.load(path: dir + "/runs/\(runs[0])/report.json")
        #expect(rep.launcher == "external")
        #expect(rep.writer.published >= 300)
        for name in ["cli-1", "cli-2", "cli-3"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.status == .completed && n.lost == 0 && n.received > 0, "\(name): \(n.status) lost \(n.lost)")
            #expect(n.resources?.samples.isEmpty == false, "\(name): no resource series from its STATS")
        }
        #expect(rep.controlPlane?.refused == 0, "\(String(describing: rep.controlPlane))")
        // On one host the corrected wall-clock latency matches the monotonic one within the offsets' uncertainty.
        let mono = try #require(rep.nodes.first { $0.name == "cli-1" }).latency.p50Us
        for name in ["cli-2", "cli-3"] {
            let wall = try #require(rep.nodes.first { $0.name == name })
            #expect(wall.clock?.uncertaintyNs != nil, "\(name): no offset estimate")
            let slack = Double((wall.clock?.uncertaintyNs ?? 0) + (rep.nodes.first { $0.name == "writer" }?.clock?.uncertaintyNs ?? 0)) / 1000
            #expect(abs(wall.latency.p50Us - mono) <= slack + 500, "\(name): wall p50 \(wall.latency.p50Us) µs, monotonic p50 \(mono) µs, ± \(slack) µs")
        }
        #expect(Harness.processes(tagged: "external").isEmpty)
    }

    @Test("replicas started with --claim-name take the names of their group; one more than the group has is refused")
    func replicasClaimNames() async throws {
        let (dir, file, control, pub, snap) = try await Self.setUp("external-claim", readers: #"{ "role": "log", "count": 2 }"#)
        let env = ["CLUSTERSIM_TEST_TAG": "external-claim", "CLUSTERSIM_CONTROL": control]
        let writer = try Harness.start(Harness.clusterNode, ["writer", "--pub", pub, "--snapshots", snap], environment: env)
        // Three identical command lines, as compose starts replicas; the group has two nodes.
        let replicas = try (1...3).map { _ in
            try Harness.start(Harness.clusterNode, ["reader", "--claim-name", "log", "--role", "log", "--pub", pub, "--snapshots", snap,
                                                    "--log-file", dir + "/{name}.jsonl", "--claim-timeout", "30s"], environment: env)
        }
        let r = try await Harness.run(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--control-bind", control],
                                      timeout: 60, environment: env)
        let nodes = [writer] + replicas
        let results = try await offPool { nodes.map { Harness.wait($0.0, $0.1, $0.2, timeout: 10) } }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(results[0].status == 0)
        let readerResults = results.dropFirst()
        #expect(readerResults.filter { $0.status == 0 }.count == 2, "\(readerResults.map(\.status))")
        let refused = readerResults.filter { $0.status != 0 }
        #expect(refused.count == 1)
        #expect(refused.first?.stderr.contains("every node of group \"log\" (2) is taken") == true, "\(refused.first?.stderr ?? "")")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        let rep = try RunReport.load(path: dir + "/runs/\(runs[0])/report.json")
        // The replica too many was refused, and that is all that was.
        // (its claim is repeated every 2 s until answered, so perhaps more than once).
        #expect(rep.controlPlane.map { Array($0.refusedByReason.keys) == ["claim-refused"] } == true, "\(String(describing: rep.controlPlane))")
        for name in ["log-1", "log-2"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.status == .completed && n.lost == 0 && n.received > 0, "\(name): \(n.status) lost \(n.lost)")
            // {name} in the log path became the claimed name: each replica wrote its own file.
            let lines = try String(contentsOfFile: dir + "/\(name).jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count >= Int(n.received), "\(name).jsonl has \(lines.count) lines for \(n.received) received")
        }
        #expect(Harness.processes(tagged: "external-claim").isEmpty)
    }

    @Test("a node that never registers: the run ends after registerTimeout with exit 2, naming it and what it last said")
    func registerTimeout() async throws {
        let (dir, file, control, pub, snap) = try await Self.setUp("external-missing", readers: #"{ "role": "cli", "count": 2 }"#,
                                                                  top: #""registerTimeout": "3s", "#)
        let env = ["CLUSTERSIM_TEST_TAG": "external-missing", "CLUSTERSIM_CONTROL": control]
        // The writer and cli-1 only: cli-2 is never started.
        let writer = try Harness.start(Harness.clusterNode, ["writer", "--pub", pub, "--snapshots", snap], environment: env)
        let reader = try Harness.start(Harness.clusterNode, ["reader", "--name", "cli-1", "--pub", pub, "--snapshots", snap], environment: env)
        let started = ContinuousClock.now
        let r = try await Harness.run(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--control-bind", control],
                                      timeout: 60, environment: env)
        let took = ContinuousClock.now - started
        let nodes = [writer, reader]
        let exits = try await offPool { nodes.map { Harness.wait($0.0, $0.1, $0.2, timeout: 15).status } }
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("1 node(s) never registered within 3s (registerTimeout)"), "\(r.stderr)")
        #expect(r.stderr.contains("cli-2: nothing received; start it with --name cli-2 --control"), "\(r.stderr)")
        #expect(!r.stderr.contains("cli-1:"), "cli-1 registered: \(r.stderr)")
        #expect(took >= .seconds(3) && took < .seconds(40), "the run ended \(took) after it started, for a 3 s registerTimeout")
        // The nodes that did register were stopped, and the aborted run still has its report.
        #expect(!exits.contains(-1), "nodes still running after the abort: \(exits)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        let rep = try RunReport.load(path: dir + "/runs/\(try #require(runs.first))/report.json")
        #expect(rep.aborted == "1 node(s) never registered within 3s (registerTimeout)")
        #expect(rep.nodes.first { $0.name == "cli-2" }?.status == .neverReady, "others start the nodes: one never heard from is never ready")
        #expect(Harness.processes(tagged: "external-missing").isEmpty)
    }

    /// A run directory with a 2 s external-launcher topology of `readers` (and the
    /// top-level keys `top`), and free endpoints: the control plane, the writer's
    /// PUB and snapshot service.
    /// - Parameter ports: which block of free ports (suites that run side by side take different ones).
    static func setUp(_ tag: String, readers: String, top: String = "", duration: String = "2s", ports: Int = 0) async throws
        -> (dir: String, file: String, control: String, pub: String, snapshots: String) {
        let dir = Harness.tempDirectory(tag)
        let file = dir + "/t.json"
        try #"{ "name": "it-\#(tag)", \#(top)"duration": "\#(duration)", "launcher": "external", "writer": { "rate": 200 }, "readers": [ \#(readers) ] }"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let port = try await offPool { Self.freePort(block: ports) }
        return (dir, file, "tcp://127.0.0.1:\(port)", "tcp://127.0.0.1:\(port + 1)", "tcp://127.0.0.1:\(port + 2)")
    }

    /// Three free ports in a row, the first returned, above the kernel's
    /// ephemeral range (32 768–60 999 here: no outgoing connection takes them,
    /// and the orchestrator's own ports are below it); `block` shifts the
    /// search by 1 500 ports, so suites running side by side do not pick the same ones.
    static func freePort(block: Int = 0) -> Int {
        let base = 61_000 + block * 1_500, start = Int(getpid() % 374) * 4
        for i in 0..<374 {
            let p = base + (start + i * 4) % 1_496
            var ok = true
            for q in p..<(p + 3) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                addr.sin_port = in_port_t(UInt16(q).bigEndian)
                let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                close(fd)
                if rc != 0 { ok = false; break }
            }
            if ok { return p }
        }
        return base + start
    }
}
