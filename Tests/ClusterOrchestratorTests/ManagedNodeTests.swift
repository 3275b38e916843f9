import ClusterCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import ClusterOrchestrator

/// A node's lifecycle and the status the report derives from it.
@Suite("Managed node")
struct ManagedNodeTests {
    func reader(_ name: String = "cli-1") -> ManagedNode {
        let command = NodeCommand.reader(ReaderConfig(name: name, publishEndpoint: "tcp://127.0.0.1:1", snapshotEndpoint: "tcp://127.0.0.1:2"))
        return ManagedNode(name: name, group: "cli", role: .reader(.cli), plan: NodePlan(command: command))
    }

    func final() -> Clustersim_V1_FinalMetrics { Clustersim_V1_FinalMetrics() }

    @Test("launched, HELLO, READY, STOP, final dump, exit 0: completed, the exit expected")
    func cleanRun() {
        var n = reader()
        #expect(n.status(external: false) == .neverStarted && !n.isAlive)
        n.started(pid: 100)
        #expect(n.isAlive && n.lifecycle == .launched(Incarnation(pid: 100)))
        #expect(n.status(external: false) == .neverReady)
        n.registered(pid: 100, external: false, now: 5)
        #expect(n.telemetry.clock.next == 5)
        n.becameReady()
        #expect(n.lifecycle.isReady && n.history.readyEver)
        n.startSent()
        #expect(n.lifecycle == .ready(Incarnation(pid: 100), startSent: true))
        n.expectExit()
        #expect(n.lifecycle.exitExpected && !n.lifecycle.isReady)
        n.receivedFinal(final())
        let (expected, relaunch) = n.ended(pid: 100, status: .exited(0))
        #expect(expected && !relaunch)
        #expect(n.lifecycle == .exited(finalReceived: true) && !n.isAlive)
        #expect(n.status(external: false) == .completed)
    }

    @Test("a final dump read after the process was reaped still counts")
    func finalAfterExit() {
        var n = reader()
        n.started(pid: 7)
        n.becameReady()
        n.expectExit()
        _ = n.ended(pid: 7, status: .exited(0))
        #expect(n.status(external: false) == .exited)
        n.receivedFinal(final())
        #expect(n.lifecycle.finalReceived && n.status(external: false) == .completed)
    }

    @Test("killed, terminated, crashed", arguments: [
        (ClusterOrchestrator.ExitStatus.signaled(SIGKILL), true, NodeStatus.killed),
        (.signaled(SIGTERM), true, .terminated),
        (.exited(3), true, .exited),
        (.signaled(SIGSEGV), false, .crashed),
        (.exited(0), false, .crashed),
    ])
    func ends(status: ClusterOrchestrator.ExitStatus, expectedEnd: Bool, report: NodeStatus) {
        var n = reader()
        n.started(pid: 9)
        n.becameReady()
        if expectedEnd { n.expectExit() }
        #expect(n.ended(pid: 9, status: status).expected == expectedEnd)
        #expect(n.status(external: false) == report)
        #expect(n.history.crashed == !expectedEnd)
    }

    @Test("a restart: the end is expected and the node is started again as a new incarnation")
    func restart() {
        var n = reader()
        n.started(pid: 1)
        n.becameReady()
        n.setPaused(true)
        n.receivedFinal(final())
        n.expectExit(relaunch: true)
        n.expectExit()
        #expect(n.lifecycle == .stopping(Incarnation(pid: 1, paused: true, finalReceived: true), relaunch: true),
                "a STOP while a restart is pending keeps the restart")
        let (expected, relaunch) = n.ended(pid: 1, status: .signaled(SIGTERM))
        #expect(expected && relaunch && n.history.restarts == 1)
        n.started(pid: 2)
        #expect(n.lifecycle == .launched(Incarnation(pid: 2)), "a new incarnation: not paused, no final dump yet")
        #expect(n.history.pids == [1, 2])
        #expect(n.telemetry.final != nil, "the earlier dump is kept until a new one comes")
    }

    @Test("a failed launch keeps what the last incarnation had")
    func launchFailed() {
        var n = reader()
        n.launchFailed(SpawnError(.spawn, errno: ENOENT, "cannot start x for cli-1: No such file or directory"))
        #expect(n.lifecycle == .exited(finalReceived: false))
        #expect(n.lastSaid == "cannot start x for cli-1: No such file or directory")
        #expect(n.status(external: false) == .neverStarted)
    }

    @Test("started by others: alive from HELLO to BYE, its pids from its HELLOs, its status from what it said")
    func external() {
        var n = reader()
        n.awaited("not registered: start it with --name cli-1 --control tcp://x:1")
        #expect(!n.isAlive && n.lifecycle.pid == nil)
        n.registered(pid: 4242, external: true, now: 0)
        #expect(n.isAlive && n.history.pids == [4242])
        n.becameReady()
        n.saidBye(external: true)
        #expect(!n.isAlive && n.status(external: true) == .noFinalDump)
        n.registered(pid: 4243, external: true, now: 0)
        #expect(n.isAlive, "registering again after BYE brings it back")
        n.receivedFinal(final())
        #expect(n.status(external: true) == .completed)
    }

    @Test("a cpu hog is ready at once, expected to end, with nothing to send")
    func hog() {
        var n = ManagedNode(name: "cpu-hog-1", group: "cpu-hog", role: .cpuHog, plan: NodePlan(command: .cpuHog(CPUHogConfig(forNanos: 1))))
        n.startedHog(pid: 55)
        #expect(n.isAlive && n.lifecycle.finalReceived && n.lifecycle.exitExpected)
        #expect(n.ended(pid: 55, status: .exited(0)).expected)
        #expect(n.status(external: false) == .completed)
    }
}

@Suite("Name claims")
struct NameClaimTests {
    func table() -> NodeTable {
        let nodes = ["log-1", "log-2", "cli-1"].map { name in
            ManagedNode(name: name, group: String(name.prefix(3)), role: .reader(name.hasPrefix("log") ? .log : .cli),
                        plan: NodePlan(command: .cpuHog(CPUHogConfig(forNanos: 1))))
        }
        return NodeTable(nodes)
    }

    @Test("replicas get the group's free names in order, the same again on a repeat, and a refusal past the last")
    func claims() {
        var claims = NameClaims()
        let t = table()
        let registered: (String) -> Bool = { $0 == "log-1" }
        #expect(claims.answer(group: "log", identity: [1], allowed: true, nodes: t, isRegistered: registered) == .granted("log-2", new: true))
        #expect(claims.answer(group: "log", identity: [1], allowed: true, nodes: t, isRegistered: registered) == .granted("log-2", new: false))
        #expect(claims.answer(group: "log", identity: [2], allowed: true, nodes: t, isRegistered: registered)
                == .refused("every node of group \"log\" (2) is taken; start at most 2 replicas"))
        #expect(claims.answer(group: "web", identity: [3], allowed: true, nodes: t, isRegistered: registered)
                == .refused("the topology has no group \"web\" (groups: cli, log)"))
        #expect(claims.answer(group: "log", identity: [4], allowed: false, nodes: t, isRegistered: registered)
                == .refused("names are claimed only under the external launcher; this run launches its own nodes"))
    }

    @Test("a container started again claims from a new DEALER but the same host: it gets its name back once the node has ended")
    func restartedContainer() {
        var t = table()
        t.modify("log-1") { $0.awaited("by hand"); $0.registered(pid: 7, external: true, now: 0) }
        // Replicas started by hand share a host name: while log-1 runs, another gets a name of its own.
        var byHand = NameClaims()
        #expect(byHand.answer(group: "log", identity: [1], host: "c0ffee", allowed: true, nodes: t, isRegistered: { _ in false })
                == .granted("log-1", new: true))
        #expect(byHand.answer(group: "log", identity: [2], host: "c0ffee", allowed: true, nodes: t, isRegistered: { $0 == "log-1" })
                == .granted("log-2", new: true))
        // log-1's container ended and was started again: a new DEALER, the same host.
        var claims = NameClaims()
        _ = claims.answer(group: "log", identity: [1], host: "c0ffee", allowed: true, nodes: t, isRegistered: { _ in false })
        t.modify("log-1") { $0.saidBye(external: true) }
        #expect(claims.answer(group: "log", identity: [9], host: "c0ffee", allowed: true, nodes: t, isRegistered: { $0 == "log-1" })
                == .granted("log-1", new: false))
    }
}

@Suite("Resource sampler")
struct ResourceSamplerTests {
    @Test("a slice every 50 ms, each node every tenth slice; USS/PSS on the first sample, then once in 120 rounds, staggered")
    func cadence() {
        var s = ResourceSampler()
        var slices: [Int] = []
        var now: UInt64 = 0
        for _ in 0..<25 {
            if let slice = s.dueSlice(now: now) { slices.append(slice) }
            now += 25_000_000
        }
        #expect(slices == Array(0..<10) + [0, 1, 2], "one slice per 50 ms, round the ten")
        #expect(s.readsSmaps(index: 0, smapsRead: false), "a node's first sample reads USS/PSS")
        // A hundred nodes over 120 rounds (a minute): each reads its USS/PSS once, at most one node in a slice at a time.
        var reads: [Int: Int] = [:]
        var mostInASlice = 0
        for _ in 0..<1_200 {
            now += 50_000_000
            guard let slice = s.dueSlice(now: now) else { continue }
            let reading = (0..<100).filter { $0 % 10 == slice && s.readsSmaps(index: $0, smapsRead: true) }
            mostInASlice = max(mostInASlice, reading.count)
            for i in reading { reads[i, default: 0] += 1 }
        }
        #expect(reads.count == 100 && reads.values.allSatisfy { $0 == 1 }, "\(reads.count) nodes read")
        #expect(mostInASlice == 1)
    }
}

@Suite("Progress line")
struct ProgressLineTests {
    func reader(_ name: String, fast: Bool, p99Us: Double, lost: UInt64 = 0) -> ManagedNode {
        let command = NodeCommand.reader(ReaderConfig(name: name, publishEndpoint: "tcp://127.0.0.1:1", snapshotEndpoint: "tcp://127.0.0.1:2"))
        var plan = NodePlan(command: command)
        plan.fastReader = fast
        var n = ManagedNode(name: name, group: "g", role: .reader(.cli), plan: plan)
        n.started(pid: 1)
        var s = Clustersim_V1_Stats()
        s.intervalLatency.p99Us = p99Us
        s.lost = lost
        n.telemetry.lastStats = s
        return n
    }

    @Test("the worst p99 is the fast readers'; readers slow on purpose are shown apart")
    func fastAndSlowApart() {
        let nodes = [reader("a", fast: true, p99Us: 1_200), reader("b", fast: true, p99Us: 3_400, lost: 2),
                     reader("slow", fast: false, p99Us: 2_800_000, lost: 5)]
        let line = ProgressLine.line(elapsed: 5, total: 20, rate: 1_000, nodes: nodes)
        #expect(line.contains("lost 7  worst p99 3.40 ms (others 2800.00 ms)  nodes up 3 down 0"), "\(line)")
        let onlyFast = ProgressLine.line(elapsed: 5, total: 20, rate: 1_000, nodes: Array(nodes.prefix(2)))
        #expect(onlyFast.hasSuffix("worst p99 3.40 ms  nodes up 2 down 0"), "\(onlyFast)")
    }
}
