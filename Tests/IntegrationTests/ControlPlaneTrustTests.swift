import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// The control plane trusts no stranger (docs/protocol.md §6, "Who may say
/// what"): a peer that registered no name, or that asks for a taken one, is
/// refused and recorded, and the run's figures are the nodes' own.
@Suite("control plane: strangers", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct ControlPlaneTrustTests {
    /// A peer on the control plane that sends what a test chooses.
    final class Stranger: @unchecked Sendable {
        let context = try! Context()
        let dealer: Socket

        init(_ endpoint: String) throws {
            dealer = try context.socket(.dealer)
            try dealer.setLinger(.zero)
            try dealer.connect(endpoint)
        }

        func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body) throws {
            var m = Clustersim_V1_ControlMessage()
            m.body = body
            _ = try dealer.send(try m.serializedBytes() as [UInt8])
        }

        /// Whatever the orchestrator sent it within `timeout`.
        func received(within timeout: Duration) throws -> [Clustersim_V1_ControlMessage.OneOf_Body?] {
            var out: [Clustersim_V1_ControlMessage.OneOf_Body?] = []
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard let m = try dealer.receive(timeout: .milliseconds(100)) else { continue }
                out.append((try? Clustersim_V1_ControlMessage(serializedBytes: m.bytes))?.body)
            }
            return out
        }
    }

    /// A process a thread started, handed back.
    struct Started: @unchecked Sendable {
        let process: (Process, Pipe, Pipe)
        init(_ p: (Process, Pipe, Pipe)) { process = p }
    }

    struct Played: Sendable {
        var start: Bool
        var stop: Bool
    }

    static func hello(_ node: String, pid: Int32) -> Clustersim_V1_ControlMessage.OneOf_Body {
        var h = Clustersim_V1_Hello()
        h.node = node
        h.role = "cli"
        h.pid = pid
        return .hello(h)
    }

    /// Waits on the calling thread (never the cooperative pool, which a busy
    /// test process may not give back in time) until the run under `runs` has
    /// logged `event`, at most `timeout` seconds.
    /// - Returns: the run directory, or nil.
    static func awaitEvent(_ event: String, under runs: String, timeout: Double = 30) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let run = (try? FileManager.default.contentsOfDirectory(atPath: runs))?.first,
               count(event, in: runs + "/\(run)") > 0 { return runs + "/\(run)" }
            usleep(50_000)
        }
        return nil
    }

    /// The pid the run launched `node` with, from events.jsonl.
    static func launchedPID(_ node: String, in dir: String) throws -> Int32? {
        let events = try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8)
        for line in events.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  o["event"] as? String == "launched", o["node"] as? String == node, let pid = o["pid"] as? String else { continue }
            return Int32(pid)
        }
        return nil
    }

    /// How many `event` lines the run's events.jsonl has so far.
    static func count(_ event: String, in dir: String) -> Int {
        let events = (try? String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8)) ?? ""
        return events.components(separatedBy: #""event":"\#(event)""#).count - 1
    }

    /// What a node said of itself when it stopped: the `key=value` pairs of its "stopped" line in node.log.
    static func ownAccount(_ node: String, in dir: String) throws -> [String: String] {
        let log = try String(contentsOfFile: dir + "/nodes/\(node)/node.log", encoding: .utf8)
        guard let line = log.split(separator: "\n").last(where: { $0.hasSuffix("stopped") }) else { return [:] }
        var out: [String: String] = [:]
        for word in line.split(separator: " ") where word.contains("=") {
            let kv = word.split(separator: "=", maxSplits: 1)
            out[String(kv[0])] = String(kv[1])
        }
        return out
    }

    @Test("a stranger's HELLO, duplicate HELLOs, READY, STATS, FINAL, BYE and garbage are refused, recorded, and change no figure")
    func strangers() async throws {
        let tag = "control-strangers"
        let (p, o, e, runs) = try Harness.startTopology("""
            { "name": "it-strangers", "duration": "6s", "writer": { "rate": 200 },
              "readers": [ { "role": "cli", "count": 2 } ], "slo": { "maxLossFastReaders": 0 } }
            """, tag: tag)
        // One thread waits for the measured phase and sends: a task could wait for the cooperative pool until the run is over.
        let attack = try await offPool { () -> (dir: String, heard: [Clustersim_V1_ControlMessage.OneOf_Body?])? in
            guard let dir = Self.awaitEvent("measure-started", under: runs),
                  let data = FileManager.default.contents(atPath: dir + "/" + RunEndpoints.fileName),
                  let endpoints = try? JSONDecoder().decode(RunEndpoints.self, from: data),
                  let cli1PID = try Self.launchedPID("cli-1", in: dir), let writerPID = try Self.launchedPID("writer", in: dir)
            else { return nil }
            let s = try Stranger(endpoints.control)
            try s.send(Self.hello("mallory", pid: 1))                 // no such node
            try s.send(Self.hello("cli-1", pid: cli1PID))             // a taken name, with its true pid
            try s.send(Self.hello("writer", pid: writerPID))          // the writer's name
            var ready = Clustersim_V1_Ready()
            ready.node = "cli-1"
            try s.send(.ready(ready))
            var stats = Clustersim_V1_Stats()
            stats.node = "cli-2"
            stats.received = 123_456_789
            stats.lost = 424_242
            try s.send(.stats(stats))
            var final = Clustersim_V1_FinalMetrics()
            final.node = "writer"
            final.metricsJson = NodeMetrics(node: "writer", role: .writer, incarnation: 1, startedWallNs: 1, counters: ["published": 1_000_000_000_000, "final_version": 1_000_000_000_000]).jsonText()
            try s.send(.final(final))
            var reply = Clustersim_V1_TimeReply()
            reply.nodeWallNs = 1
            try s.send(.timeReply(reply))
            var bye = Clustersim_V1_Bye()
            bye.node = "cli-1"
            try s.send(.bye(bye))
            try s.send(.start(Clustersim_V1_Start()))                // only the orchestrator sends START
            _ = try s.dealer.send([0xFF, 0x00, 0x13, 0x37])           // not a control message
            _ = try s.dealer.sendMultipart([[0x0A, 0x00], [0x12, 0x00]])   // two frames
            // Listen until all eleven are on record (bounded).
            var heard: [Clustersim_V1_ControlMessage.OneOf_Body?] = []
            let deadline = ContinuousClock.now + .seconds(20)
            repeat {
                heard += try s.received(within: .milliseconds(500))
            } while ContinuousClock.now < deadline && Self.count("control-refused", in: dir) < 11
            heard += try s.received(within: .milliseconds(500))
            return (dir, heard)
        }
        let (dir, heard) = try #require(attack, "the run did not start measuring, or left no endpoints.json")
        #expect(heard.isEmpty, "the stranger was sent \(heard)")
        let r = await offPoolWait(p, o, e, timeout: 60)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")

        let rep = try RunReport.load(path: dir + "/report.json")
        let control = try #require(rep.controlPlane)
        let expected: [String: UInt64] = ["unknown-node": 1, "name-taken": 2, "unknown-peer": 5, "wrong-direction": 1, "malformed": 2]
        #expect(control.refusedByReason == expected && control.refused == 11, "\(control)")
        let events = try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8)
        #expect(Self.count("control-refused", in: dir) == 11)
        #expect(events.contains(#""event":"control-refused-total""#))
        let summary = try String(contentsOfFile: dir + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("control plane: 11 messages refused (unknown-peer 5, malformed 2, name-taken 2,"), "\(summary)")

        // Every figure is the node's own, as it logged it when it stopped.
        let writer = try Self.ownAccount("writer", in: dir)
        #expect("\(rep.writer.published)" == writer["published"] && "\(rep.writer.finalVersion)" == writer["finalVersion"],
                "report \(rep.writer.published)/\(rep.writer.finalVersion), writer's own \(writer)")
        for name in ["cli-1", "cli-2"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            let own = try Self.ownAccount(name, in: dir)
            #expect(n.status == .completed && "\(n.received)" == own["received"] && "\(n.lost)" == own["lost"] && n.lost == 0,
                    "\(name): report \(n.status) \(n.received)/\(n.lost), its own \(own)")
            #expect(n.pids.count == 1 && n.restarts == 0)
        }
        #expect(rep.sloPassed && rep.totals.crashes == 0)
        #expect(Harness.processes(tagged: tag).isEmpty, "processes left behind")
    }

    @Test("external launcher: a FINAL before STOP and a second HELLO for a live name are refused; a killed node started again registers again")
    func externalRules() async throws {
        let tag = "control-external"
        let (dir, file, control, pub, snap) = try await ExternalLauncherTests.setUp(
            tag, readers: #"{ "role": "cli", "count": 2 }"#, duration: "4s", ports: 1)
        let env = ["CLUSTERSIM_TEST_TAG": tag, "CLUSTERSIM_CONTROL": control]
        let writer = try Harness.start(Harness.clusterNode, ["writer", "--pub", pub, "--snapshots", snap], environment: env)
        let cli1Args = ["reader", "--name", "cli-1", "--pub", pub, "--snapshots", snap]
        let first = try Harness.start(Harness.clusterNode, cli1Args, environment: env)
        let orchestrator = try Harness.start(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--control-bind", control],
                                             environment: env)
        // cli-1 is killed 1 s into the run and started again: a new process, a new peer, the same name.
        let restarting = StartedThread { () -> Started? in
            guard Self.awaitEvent("measure-started", under: dir + "/runs") != nil else { return nil }
            usleep(1_000_000)
            kill(first.0.processIdentifier, SIGKILL)
            return Started(try Harness.start(Harness.clusterNode, cli1Args, environment: env))
        }
        // The test plays cli-2: it registers, says READY, and sends FINAL while it runs.
        let player = StartedThread { () -> Played in
            let me = try Stranger(control)
            try me.send(Self.hello("cli-2", pid: getpid()))
            var ready = Clustersim_V1_Ready()
            ready.node = "cli-2"
            try me.send(.ready(ready))
            func waitFor(_ match: (Clustersim_V1_ControlMessage.OneOf_Body) -> Bool) throws -> Bool {
                let deadline = ContinuousClock.now + .seconds(40)
                while ContinuousClock.now < deadline {
                    guard let m = try me.dealer.receive(timeout: .milliseconds(100)),
                          let body = try? Clustersim_V1_ControlMessage(serializedBytes: m.bytes).body else { continue }
                    if case .timeRequest(let t) = body {   // answer probes as a node does
                        var reply = Clustersim_V1_TimeReply()
                        reply.orchestratorWallNs = t.orchestratorWallNs
                        reply.nodeWallNs = SystemClock.wallNanos()
                        try me.send(.timeReply(reply))
                    }
                    if match(body) { return true }
                }
                return false
            }
            let started = try waitFor { if case .start = $0 { true } else { false } }
            var final = Clustersim_V1_FinalMetrics()
            final.node = "cli-2"
            final.metricsJson = NodeMetrics(node: "cli-2", role: .reader(.cli), incarnation: 1, startedWallNs: 1, counters: ["received": 1]).jsonText()
            try me.send(.final(final))                                // too early: it was not told to stop
            let impostor = try Stranger(control)
            try impostor.send(Self.hello("cli-2", pid: 4242))         // the name is held by a live peer
            let stopped = try waitFor { if case .stop = $0 { true } else { false } }
            try me.send(.final(final))
            var bye = Clustersim_V1_Bye()
            bye.node = "cli-2"
            try me.send(.bye(bye))
            usleep(300_000)
            return Played(start: started, stop: stopped)
        }
        let playedResult = try await player.value()
        let second = try await restarting.value()
        #expect(playedResult.start && playedResult.stop, "cli-2 got START \(playedResult.start), STOP \(playedResult.stop)")
        #expect(second != nil, "the run never started measuring")
        let nodes = [orchestrator, writer, first] + (second.map { [$0.process] } ?? [])
        let statuses = try await offPool { nodes.map { Harness.wait($0.0, $0.1, $0.2, timeout: 60) } }
        #expect(statuses[0].status == 0, "exit \(statuses[0].status): \(statuses[0].stderr.suffix(2000))")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        let run = dir + "/runs/\(runs[0])"
        let rep = try RunReport.load(path: run + "/report.json")
        let c = try #require(rep.controlPlane)
        #expect(c.refusedByReason["final-not-stopping"] == 1 && c.refusedByReason["name-taken"] == 1 && c.refused == 2, "\(c)")
        let events = try String(contentsOfFile: run + "/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""event":"final","node":"cli-2""#), "cli-2's FINAL after STOP was not taken")
        // The second cli-1 replaced the first, got START and finished the run.
        #expect(events.contains(#""event":"hello","node":"cli-1","pid":"\#(second?.process.0.processIdentifier ?? 0)","replaces""#), "\(events)")
        let cli1 = try #require(rep.nodes.first { $0.name == "cli-1" })
        #expect(cli1.status == .completed && cli1.pids.count == 2 && cli1.received > 0, "cli-1: \(cli1.status) \(cli1.pids)")
        #expect(Harness.processes(tagged: tag).isEmpty, "processes left behind")
    }
}
