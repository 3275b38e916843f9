import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The netns launcher: nodes in network namespaces on a bridge, network faults, cleanup.
@Suite("netns launcher", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct NetnsTests {
    static let isRoot = geteuid() == 0

    /// Namespaces and interfaces named after orchestrator `owner` that still exist.
    static func objects(owner: Int32) async throws -> [String] {
        let ns = try await Harness.run("/usr/sbin/ip", ["netns", "list"], timeout: 10).stdout
        let links = try await Harness.run("/usr/sbin/ip", ["-o", "link", "show"], timeout: 10).stdout
        var out = ns.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("csn\(owner)-") }
        for line in links.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 1 else { continue }
            let name = String(f[1].prefix { $0 != "@" && $0 != ":" })
            if name == "csb\(owner)" || name.hasPrefix("csv\(owner)-") { out.append(name) }
        }
        return out
    }

    func report(_ dir: String?) throws -> RunReport {
        let d = try #require(dir, "no run directory was created")
        return try RunReport.load(path: d + "/report.json")
    }

    @Test("a partition healed mid-run: the cut-off resync readers lose, resync and converge; the others lose nothing",
          .enabled(if: isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func partitionHealed() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-netns-partition", "duration": "7s", "launcher": "netns",
              "writer": { "rate": 1000, "sndhwm": 500, "sndbuf": 65536 },
              "readers": [ { "role": "cli", "count": 2 }, { "role": "log" },
                           { "role": "cli", "name": "cut", "count": 2, "policy": "resync", "rcvbuf": 65536 } ],
              "faults": [ { "at": "2s", "action": "partition", "target": "cut", "for": "1500ms" } ],
              "slo": { "maxLossFastReaders": 0 } }
            """, tag: "netns-partition", timeout: 60)
        defer { Self.cleanUp(owner: r.pid) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        #expect(rep.launcher == "netns" && rep.aborted == nil)
        // The partition and its heal, applied on time.
        let partition = try #require(rep.faults.first { $0.action == .fault(.partition) })
        let heal = try #require(rep.faults.first { $0.action == .heal })
        #expect(partition.outcome == .applied && partition.target == "cut", "\(partition)")
        #expect(heal.outcome == .applied && heal.target == "cut", "\(heal)")
        let (cutAt, healAt) = (try #require(partition.appliedAtSeconds), try #require(heal.appliedAtSeconds))
        #expect(abs(cutAt - 2.0) <= 0.2 && abs(healAt - cutAt - 1.5) <= 0.2, "partition at \(cutAt) s, heal at \(healAt) s")
        // The cut-off readers lost versions, resynced and hold the final version.
        for name in ["cut-1", "cut-2"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.status == .completed, "\(name): \(n.status)")
            #expect(!n.fast, "\(name) was partitioned, so it is not a fast reader")
            #expect(n.lost > 0 || (n.counters["gaps"] ?? 0) > 0, "\(name): no loss or gap: \(n.counters)")
            #expect((n.counters["resyncs"] ?? 0) > 0, "\(name): no resync: \(n.counters)")
            #expect(n.converge.contains { $0.trigger == .gap }, "\(name): no convergence after the gap")
            #expect(n.counters["writer_version_seen"] == rep.writer.finalVersion,
                    "\(name) saw version \(n.counters["writer_version_seen"] ?? 0) of \(rep.writer.finalVersion)")
        }
        // The other groups were not touched.
        for name in ["cli-1", "cli-2", "log-1"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.fast && n.lost == 0 && n.status == .completed, "\(name): \(n.status), lost \(n.lost)")
            #expect(n.received >= rep.writer.published - 5, "\(name) received \(n.received) of \(rep.writer.published)")
            // Separate hosts: a wall-clock offset was estimated for each reader.
            #expect((n.clock?.samples ?? 0) >= 3, "\(name): no clock offset")
        }
        // The HTML report shows both in its fault table and as chart markers.
        let html = try String(contentsOfFile: dir! + "/report.html", encoding: .utf8)
        #expect(html.contains("partition cut") && html.contains("heal cut"), "no fault markers in report.html")
        #expect(html.contains("end of partition"), "no heal row in report.html")
        #expect(try await Self.objects(owner: r.pid).isEmpty, "namespaces or interfaces left behind")
        #expect(Harness.processes(tagged: "netns-partition").isEmpty, "processes left behind")
    }

    @Test("loss, bandwidth, a partition of a relay, kill, restart and pause work in namespaces",
          .enabled(if: isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func otherFaults() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-netns-faults", "duration": "5s", "launcher": "netns", "writer": { "rate": 500 },
              "readers": [ { "role": "relay" }, { "role": "cli", "name": "behind", "via": "relay", "policy": "resync" },
                           { "role": "cli", "name": "lossy" }, { "role": "cli", "name": "thin" },
                           { "role": "cli", "count": 2 } ],
              "faults": [ { "at": "1s", "action": "loss", "target": "lossy", "loss": 0.2, "for": "1s" },
                          { "at": "1s", "action": "bandwidth", "target": "thin", "bandwidth": "500kbit", "for": "1s" },
                          { "at": "1s", "action": "partition", "target": "relay", "for": "500ms" },
                          { "at": "1s", "action": "kill", "target": "cli-1" },
                          { "at": "1500ms", "action": "restart", "target": "cli-1" },
                          { "at": "2s", "action": "pause", "target": "cli-2", "for": "300ms" } ] }
            """, tag: "netns-faults", timeout: 60)
        defer { Self.cleanUp(owner: r.pid) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        for action in [FaultAction.loss, .bandwidth, .partition, .kill, .restart, .pause, .resume] {
            let f = try #require(rep.faults.first { $0.action == .fault(action) }, "no \(action) record")
            #expect(f.outcome == .applied, "\(action): \(f.outcome) \(f.detail)")
        }
        let heals = rep.faults.filter { $0.action == .heal }
        #expect(heals.count == 3 && heals.allSatisfy { $0.outcome == .applied }, "\(heals)")
        #expect(rep.faults.first { $0.action == .fault(.partition) }?.detail.contains("against writer") == true)
        // Signal faults reach the node itself: `ip netns exec` left it the pid that was spawned.
        let cli1 = try #require(rep.nodes.first { $0.name == "cli-1" })
        #expect(cli1.restarts == 1 && cli1.pids.count == 2 && cli1.status == .completed, "cli-1: \(cli1.status)")
        #expect(rep.controlPlane?.refused == 0, "a restart in a namespace registers again: \(String(describing: rep.controlPlane))")
        for name in ["behind", "lossy", "thin", "cli-2"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.status == .completed && n.counters["writer_version_seen"] == rep.writer.finalVersion,
                    "\(name): \(n.status), saw \(n.counters["writer_version_seen"] ?? 0) of \(rep.writer.finalVersion)")
        }
        #expect(try await Self.objects(owner: r.pid).isEmpty, "namespaces or interfaces left behind")
        #expect(Harness.processes(tagged: "netns-faults").isEmpty, "processes left behind")
    }

    @Test("SIGINT mid-run: no namespace, interface or child is left", .enabled(if: isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func interrupt() async throws {
        let (p, o, e, runsDir) = try Harness.startTopology("""
            { "name": "it-netns-sigint", "duration": "30s", "launcher": "netns", "writer": { "rate": 100 },
              "readers": [ { "role": "cli", "count": 2 }, { "role": "log" } ],
              "faults": [ { "at": "1s", "action": "partition", "target": "log", "for": "20s" } ] }
            """, tag: "netns-sigint")
        let owner = p.processIdentifier
        defer { Self.cleanUp(owner: owner) }
        let started = try await Harness.waitForEvent("fault", in: runsDir, timeout: 20)
        #expect(started, "the run did not reach its partition")
        #expect(try await Self.objects(owner: owner).count == 7, "expected a bridge and 3 namespaces with their veths during the run")
        kill(owner, SIGINT)
        let (p2, o2, e2) = (p, o, e)
        let r = try await offPool { Harness.wait(p2, o2, e2, timeout: 20) }
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(try await Self.objects(owner: owner).isEmpty, "namespaces or interfaces left behind after SIGINT")
        #expect(Harness.processes(tagged: "netns-sigint").isEmpty, "processes left behind after SIGINT")
        let runs = try FileManager.default.contentsOfDirectory(atPath: runsDir)
        let rep = try RunReport.load(path: runsDir + "/\(runs[0])/report.json")
        #expect(rep.aborted?.contains("interrupted") == true)
    }

    @Test("the leftovers of a killed run (its pid gone) are removed at the start of the next", .enabled(if: isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func leftoversRemoved() async throws {
        // A pid no process has: the "crashed" orchestrator's.
        let dead = try #require((3_000_000...3_999_999).reversed().first { kill(Int32($0), 0) != 0 && errno == ESRCH })
        let ip = "/usr/sbin/ip"
        defer { Self.cleanUp(owner: Int32(dead)) }
        for args in [["netns", "add", "csn\(dead)-1"], ["link", "add", "csb\(dead)", "type", "bridge"],
                     ["link", "add", "csv\(dead)-1", "type", "veth", "peer", "name", "eth0", "netns", "csn\(dead)-1"],
                     ["link", "set", "csv\(dead)-1", "master", "csb\(dead)", "up"]] {
            let r = try await Harness.run(ip, args, timeout: 10)
            try #require(r.status == 0, "ip \(args.joined(separator: " ")): \(r.stderr)")
        }
        #expect(try await Self.objects(owner: Int32(dead)).count == 3)
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-netns-leftovers", "duration": "1s", "launcher": "netns", "writer": { "rate": 100 },
              "readers": [ { "role": "cli" } ] }
            """, tag: "netns-leftovers", timeout: 40)
        defer { Self.cleanUp(owner: r.pid) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(try await Self.objects(owner: Int32(dead)).isEmpty, "the leftovers are still there")
        #expect(r.stderr.contains("removed a leftover of an earlier netns run") && r.stderr.contains("csn\(dead)-1"), "\(r.stderr)")
        let events = try String(contentsOfFile: try #require(dir) + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("netns-leftover-removed") && events.contains("csb\(dead)"))
        #expect(try await Self.objects(owner: r.pid).isEmpty)
    }

    @Test("SIGKILL of the orchestrator: its nodes in namespaces die with it (parent-death signal); the next run removes what it left",
          .enabled(if: isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func killedRunCleanedByTheNext() async throws {
        let (p, o, e, runsDir) = try Harness.startTopology("""
            { "name": "it-netns-killed", "duration": "30s", "launcher": "netns", "writer": { "rate": 100 },
              "readers": [ { "role": "cli", "count": 2 } ], "faults": [ { "at": "500ms", "action": "pause", "target": "cli-2", "for": "100ms" } ] }
            """, tag: "netns-killed")
        let owner = p.processIdentifier
        defer { Self.cleanUp(owner: owner) }
        let started = try await Harness.waitForEvent("fault", in: runsDir, timeout: 20)
        #expect(started, "the run did not reach its first fault")
        #expect(Harness.processes(tagged: "netns-killed").count >= 4, "orchestrator and 3 nodes expected")
        kill(owner, SIGKILL)
        let (p2, o2, e2) = (p, o, e)
        _ = try await offPool { Harness.wait(p2, o2, e2, timeout: 10) }
        // The nodes get SIGTERM from the kernel and stop; bounded.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !Harness.processes(tagged: "netns-killed").isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(Harness.processes(tagged: "netns-killed").isEmpty, "nodes outlived their orchestrator")
        #expect(try await Self.objects(owner: owner).count == 5, "a killed run cannot clean up: its bridge, 2 namespaces and veths remain")
        let (r, _) = try await Harness.runTopology("""
            { "name": "it-netns-after-kill", "duration": "500ms", "launcher": "netns", "writer": { "rate": 100 }, "readers": [ { "role": "cli" } ] }
            """, tag: "netns-after-kill", timeout: 40)
        defer { Self.cleanUp(owner: r.pid) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(try await Self.objects(owner: owner).isEmpty, "the killed run's namespaces and interfaces are still there")
        #expect(r.stderr.contains("csb\(owner)"), "no log line for the removed bridge: \(r.stderr)")
        let forward = try await Harness.run("/usr/sbin/iptables", ["-S", "FORWARD"], timeout: 10).stdout
        #expect(!forward.contains("csb\(owner)"), "the killed run's FORWARD rule is still there: \(forward)")
    }

    @Test("--launcher netns without root: exit 2, saying it needs root and why",
          .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv to run the orchestrator as another user"))
    func refusedWithoutRoot() async throws {
        let dir = Harness.tempDirectory("netns-nonroot")
        chmod(dir, 0o755)
        let file = dir + "/t.json"
        try #"{ "name": "it-netns-nonroot", "duration": "1s", "writer": { "rate": 10 }, "readers": [ { "role": "cli" } ] }"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Harness.orchestrator,
                                                           "run", file, "--launcher", "netns", "--out", dir + "/runs"], timeout: 20)
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("launcher \"netns\" needs root") && r.stderr.contains("network namespaces"), "\(r.stderr)")
    }

    @Test("a netns topology run with --launcher local: network faults are skipped, saying they need the netns launcher")
    func skippedUnderLocal() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-netns-local", "duration": "1500ms", "launcher": "netns", "writer": { "rate": 100 }, "readers": [ { "role": "cli", "count": 2 } ],
              "faults": [ { "at": "500ms", "action": "partition", "target": "cli", "for": "500ms" },
                          { "at": "500ms", "action": "bandwidth", "target": "cli-1", "bandwidth": "1mbit", "for": "500ms" } ] }
            """, tag: "netns-local", extra: ["--launcher", "local"], timeout: 40)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try report(dir)
        let net = rep.faults.filter { $0.action == .fault(.partition) || $0.action == .fault(.bandwidth) }
        #expect(net.count == 3, "\(rep.faults)")
        for f in net {
            #expect(f.outcome == .skipped && f.detail.contains("needs the netns launcher"), "\(f.action) \(f.target): \(f.outcome) \(f.detail)")
        }
    }

    /// Removes what a failed test may have left: the run's namespaces and interfaces.
    static func cleanUp(owner: Int32) {
        guard isRoot else { return }
        _ = NetnsNetwork.removeLeftovers { $0 != owner }
    }
}
