import ClusterCore
import ClusterTestSupport
import ClusterProcess
import ClusterOrchestrator
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs small topologies for real and asserts on what the report says.
@Suite("orchestrator runs", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct OrchestratorRunTests {
    func report(_ dir: String?) throws -> RunReport {
        let d = try #require(dir, "no run directory was created")
        return try RunReport.load(path: d + "/report.json")
    }

    @Test("smoke: every reader receives everything; dumps exist and parse")
    func smoke() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-smoke", "duration": "2s", "writer": { "rate": 200 },
              "readers": [ { "role": "log" }, { "role": "query", "load": { "clients": 2, "rate": 50, "mix": { "getVersion": 1, "health": 1 } } }, { "role": "cli", "count": 2 } ],
              "slo": { "maxLossFastReaders": 0 } }
            """, tag: "smoke")
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        #expect(rep.aborted == nil)
        let steal = try #require(rep.environment.hostStealPercent, "no host steal in the report")
        #expect(steal >= 0 && steal <= 100)
        #expect(rep.writer.published >= 300, "published \(rep.writer.published) at 200/s for 2 s")
        let readers = rep.nodes.filter(\.role.isReader)
        #expect(readers.count == 4)
        for n in readers {
            #expect(n.status == .completed, "\(n.name): \(n.status)")
            #expect(n.lost == 0, "\(n.name) lost \(n.lost)")
            // Every version published after START reached every reader, and the tail was accounted for.
            #expect(n.received + (n.counters["stale_discarded"] ?? 0) >= rep.writer.published - 5, "\(n.name) received \(n.received) of \(rep.writer.published)")
            #expect(n.latency.count > 0 && n.latency.p50Us > 0)
            #expect(n.gauges["cpu_pinned"] == nil, "\(n.name) pinned with cpuPinning off")
            let nodeDir = dir! + "/nodes/" + n.name
            for f in ["metrics.json", "metrics.prom", "latency.hgrm", "node.log"] {
                #expect(FileManager.default.fileExists(atPath: nodeDir + "/" + f), "\(n.name)/\(f) missing")
            }
            // The orchestrator answered every BYE (docs/protocol.md, Farewell).
            let log = try String(contentsOfFile: nodeDir + "/node.log", encoding: .utf8)
            #expect(!log.contains("no farewell"), "\(n.name): \(log.suffix(500))")
            let hgrm = try String(contentsOfFile: nodeDir + "/latency.hgrm", encoding: .utf8)
            #expect(hgrm.contains("Percentile") && hgrm.contains("#[Mean"))
            let prom = try String(contentsOfFile: nodeDir + "/metrics.prom", encoding: .utf8)
            #expect(prom.contains("clustersim_received_total{"))
        }
        // The dumps of every reader parse with standard tools: json, prometheus_client's
        // text parser (scripts/setup.sh installs it), the .hgrm header; the figures agree.
        let parse = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            for d in sys.argv[1:]:
                m = json.load(open(d + "/metrics.json"))
                samples = {s.name: s.value for f in text_string_to_metric_families(open(d + "/metrics.prom").read()) for s in f.samples}
                head = open(d + "/latency.hgrm").readline().split()
                assert head == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"], (d, head)
                assert samples["clustersim_received_total"] == m["counters"]["received"], (d, samples["clustersim_received_total"])
                assert samples["clustersim_fanout_latency_seconds_count"] == m["latency"]["count"], d
                print(d.rsplit("/", 1)[-1], len(samples))
            """
        let parsed = try await Harness.run("/usr/bin/env", ["python3", "-c", parse] + readers.map { dir! + "/nodes/" + $0.name }, timeout: 30)
        #expect(parsed.status == 0, "dumps do not parse: \(parsed.stderr)")
        #expect(parsed.stdout.split(separator: "\n").count == readers.count, "\(parsed.stdout)")
        // The log reader's file holds a line for every snapshot it received.
        let log = try String(contentsOfFile: dir! + "/nodes/log-1/snapshots.jsonl", encoding: .utf8)
        let lines = log.split(separator: "\n").filter { $0.contains("\"type\":\"snapshot\"") }.count
        let logNode = try #require(readers.first { $0.name == "log-1" })
        #expect(UInt64(lines) >= logNode.received)
        // Clock offsets estimated over the control plane: one host, so zero within the uncertainty.
        for n in rep.nodes {
            let c = try #require(n.clock, "\(n.name): no clock offset")
            #expect(c.samples >= 3)
            #expect(abs(Double(c.offsetNs)) <= Double(c.uncertaintyNs) + 1_000, "\(n.name): offset \(c.offsetNs) ± \(c.uncertaintyNs) ns")
        }
        let query = try #require(rep.nodes.first { $0.role == .queryLoad })
        #expect((query.counters["ok"] ?? 0) > 0, "query load got no answer")
        // The load's mix is followed: only the kinds it weights are sent.
        #expect((query.counters["sent_get_latest"] ?? 0) == 0 && (query.counters["sent_metrics"] ?? 0) == 0, "\(query.counters)")
        #expect((query.counters["sent_get_version"] ?? 0) > 0 && (query.counters["sent_health"] ?? 0) > 0, "\(query.counters)")
        for f in ["report.json", "report.html", "summary.txt", "events.jsonl", "topology.json"] {
            #expect(FileManager.default.fileExists(atPath: dir! + "/" + f), "\(f) missing")
        }
        #expect(Harness.processes(tagged: "smoke").isEmpty, "processes left behind")
    }

    @Test("cpuPinning spread: each reader process runs on its CPU, the readers taken round the CPUs in node order")
    func pinning() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-pinning", "duration": "1s", "cpuPinning": "spread", "writer": { "rate": 100 },
              "readers": [ { "role": "cli", "count": 3 }, { "role": "log" } ] }
            """, tag: "pinning")
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        let cpus = CPUAffinity.allowed()
        for (k, name) in ["cli-1", "cli-2", "cli-3", "log-1"].enumerated() {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.status == .completed && n.lost == 0, "\(name): \(n.status), lost \(n.lost)")
            // Read back from the kernel by the reader itself, after pinning.
            #expect(n.gauges["cpu_pinned"] == Double(cpus[k % cpus.count]), "\(name): \(n.gauges)")
        }
        #expect(rep.nodes.first { $0.name == "writer" }?.gauges["cpu_pinned"] == nil, "the writer is not pinned")
        let events = try String(contentsOfFile: dir! + "/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""cpu":"\#(cpus[0])","event":"launched","node":"cli-1""#), "no cpu in cli-1's launch event")
        #expect(Harness.processes(tagged: "pinning").isEmpty, "processes left behind")
    }

    @Test("kill at a set time is applied on time and reported; restart converges")
    func killAndRestart() async throws {
        // 6 s: the restart is due at 1.5 s, and on a loaded machine the run loop was seen
        // to notice the kill's exit 3 s late (the restart waits for it); the reader then
        // needs time to register, fetch its snapshot and receive.
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-faults", "duration": "6s", "writer": { "rate": 200 },
              "readers": [ { "role": "cli", "count": 3 } ],
              "faults": [ { "at": "1s", "action": "kill", "target": "cli-1" },
                          { "at": "1500ms", "action": "restart", "target": "cli-1" },
                          { "at": "1s", "action": "kill", "target": "cli-2" } ] }
            """, tag: "faults")
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        let kills = rep.faults.filter { $0.action == .fault(.kill) }
        #expect(kills.count == 2)
        for k in kills {
            let at = try #require(k.appliedAtSeconds)
            #expect(abs(at - 1.0) <= 0.1, "kill of \(k.target) applied at \(at) s, planned 1 s")
        }
        let cli1 = try #require(rep.nodes.first { $0.name == "cli-1" })
        let cli2 = try #require(rep.nodes.first { $0.name == "cli-2" })
        let cli3 = try #require(rep.nodes.first { $0.name == "cli-3" })
        #expect(cli2.status == .killed)
        #expect(cli1.restarts == 1)
        #expect(cli1.status == .completed)
        #expect(cli1.pids.count == 2)
        // The restarted reader converged: it fetched the current snapshot after the run began.
        #expect(cli1.converge.contains { $0.trigger == .start && $0.atWallNs >= rep.startedWallNs })
        #expect(cli1.received > 0)
        #expect(cli3.fast && cli3.lost == 0)
        #expect(rep.totals.crashes == 0)
        // The restarted process registered again; nothing was refused.
        #expect(rep.controlPlane?.refused == 0, "\(String(describing: rep.controlPlane))")
        #expect(Harness.processes(tagged: "faults").isEmpty, "processes left behind")
    }

    @Test("SIGINT to the orchestrator: no child is left, a partial report is written")
    func interrupt() async throws {
        let (p, o, e, runsDir) = try Harness.startTopology("""
            { "name": "it-sigint", "duration": "30s", "writer": { "rate": 100 }, "readers": [ { "role": "cli", "count": 3 }, { "role": "log" } ],
              "faults": [ { "at": "1s", "action": "pause", "target": "cli-1" } ] }
            """, tag: "sigint")
        // Wait until the measured phase runs (events.jsonl says so), bounded.
        let started = try await Harness.waitForEvent("fault", in: runsDir, timeout: 20)
        #expect(started, "the run did not reach its first fault")
        #expect(Harness.processes(tagged: "sigint").count >= 5)
        kill(p.processIdentifier, SIGINT)
        let (p2, o2, e2) = (p, o, e)
        let r = try await offPool { Harness.wait(p2, o2, e2, timeout: 20) }
        #expect(r.status == 2)
        #expect(Harness.processes(tagged: "sigint").isEmpty, "processes left behind after SIGINT")
        let runs = try FileManager.default.contentsOfDirectory(atPath: runsDir)
        let rep = try RunReport.load(path: runsDir + "/\(runs[0])/report.json")
        #expect(rep.aborted?.contains("interrupted") == true)
        // The paused reader was resumed and stopped cleanly, with its dump.
        let cli1 = try #require(rep.nodes.first { $0.name == "cli-1" })
        #expect(cli1.status == .completed, "cli-1: \(cli1.status)")
    }

    @Test("a stall of the orchestrator's own loop while measuring is logged with its length")
    func loopStall() async throws {
        let (p, o, e, runsDir) = try Harness.startTopology("""
            { "name": "it-stall", "duration": "3s", "writer": { "rate": 100 }, "readers": [ { "role": "cli" } ] }
            """, tag: "stall")
        let started = try await Harness.waitForEvent("measure-started", in: runsDir, timeout: 20)
        #expect(started, "the run did not start measuring")
        // The orchestrator stopped for 900 ms: its nodes run on, its loop does not turn.
        kill(p.processIdentifier, SIGSTOP)
        try await Task.sleep(for: .milliseconds(900))
        kill(p.processIdentifier, SIGCONT)
        let (p2, o2, e2) = (p, o, e)
        let r = try await offPool { Harness.wait(p2, o2, e2, timeout: 30) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: runsDir)
        let lines = try String(contentsOfFile: runsDir + "/\(runs[0])/events.jsonl", encoding: .utf8).split(separator: "\n")
        let stalls = try lines.compactMap { line -> [String: Any]? in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return o?["event"] as? String == "loop-stalled" ? o : nil
        }
        #expect(stalls.count == 1, "\(stalls)")
        let ms = Int(stalls.first?["ms"] as? String ?? "") ?? 0
        #expect(ms >= 850 && ms < 5_000, "a stall of \(ms) ms logged for one of 900 ms")
        #expect(Harness.processes(tagged: "stall").isEmpty)
    }

    @Test("a bad topology is refused with the file, the path and what was expected; exit 2")
    func badTopology() async throws {
        let dir = Harness.tempDirectory("bad")
        let file = dir + "/bad.json"
        try #"{ "name": "x", "writer": { "rate": 10 }, "readers": [ { "role": "cli", "policy": "dorp" } ] }"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        for cmd in [["validate", file], ["run", file, "--out", dir]] {
            let r = try await Harness.run(Harness.orchestrator, cmd, timeout: 20)
            #expect(r.status == 2)
            #expect(r.stderr.contains("\(file): readers[0].policy: \"dorp\" is not one of drop, conflate, resync, snail"), "\(r.stderr)")
        }
    }

    @Test("a node that never becomes ready aborts the run with its name; nothing is left")
    func neverReady() async throws {
        // A reader whose writer endpoint is wrong never receives a heartbeat.
        let dir = Harness.tempDirectory("notready")
        let fakeNode = dir + "/fake-node.sh"
        try """
            #!/bin/sh
            case "$*" in *"--name cli-2"*) exec sleep 60 ;; esac
            exec \(Harness.clusterNode) "$@"
            """.write(toFile: fakeNode, atomically: true, encoding: .utf8)
        chmod(fakeNode, 0o755)
        let file = dir + "/t.json"
        try #"{ "name": "it-notready", "duration": "2s", "readyTimeout": "3s", "writer": { "rate": 50 }, "readers": [ { "role": "cli", "count": 2 } ] }"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await Harness.run(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--node-binary", fakeNode],
                                timeout: 30, environment: ["CLUSTERSIM_TEST_TAG": "notready"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cli-2: launched"), "\(r.stderr)")
        #expect(!r.stderr.contains("cli-1:"))
        #expect(Harness.processes(tagged: "notready").isEmpty, "processes left behind")
    }
}
