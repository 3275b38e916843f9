import ClusterCore
import Testing

@testable import ClusterOrchestrator

/// The control plane's rules: who may register a name, and what a registered peer may say.
@Suite("Control admission")
struct ControlAdmissionTests {
    func node(_ name: String = "cli-1") -> ManagedNode { ManagedNodeTests().reader(name) }

    func facts(_ node: ManagedNode?, pid: Int32 = 100, holder: Registration? = nil, senderHolds: String? = nil,
               owns: Bool = true) -> ControlAdmission.HelloFacts {
        .init(name: node?.name ?? "mallory", pid: pid, node: node, holder: holder, senderHolds: senderHolds, ownsProcesses: owns)
    }

    func reason(_ v: ControlAdmission.HelloVerdict) -> ControlRefusal? {
        if case .refuse(let r, _) = v { return r }
        return nil
    }

    func reason(_ v: ControlAdmission.Verdict) -> ControlRefusal? {
        if case .refuse(let r, _) = v { return r }
        return nil
    }

    @Test("HELLO under a launcher that starts the processes: only the launched pid, once")
    func helloOwned() {
        var n = node()
        #expect(reason(ControlAdmission.hello(facts(nil), holderConnected: { true }, heldByProcess: { _ in true })) == .unknownNode)
        #expect(reason(ControlAdmission.hello(facts(n), holderConnected: { true }, heldByProcess: { _ in true })) == .notLaunched)
        n.started(pid: 100)
        #expect(reason(ControlAdmission.hello(facts(n, pid: 666), holderConnected: { true }, heldByProcess: { _ in true })) == .wrongProcess)
        // The right pid over a connection the process does not hold: someone else's HELLO.
        var asked: Int32?
        #expect(reason(ControlAdmission.hello(facts(n), holderConnected: { true }, heldByProcess: { asked = $0; return false })) == .wrongProcess)
        #expect(asked == 100)
        #expect(ControlAdmission.hello(facts(n), holderConnected: { true }, heldByProcess: { _ in true }) == .register(replacing: false))
        n.registered(pid: 100, external: false, now: 0)
        let holder = Registration(identity: [0, 1], pid: 100)
        // Another peer, whatever pid it claims, while the launched process holds the name.
        #expect(reason(ControlAdmission.hello(facts(n, holder: holder), holderConnected: { false }, heldByProcess: { _ in true })) == .nameTaken)
        #expect(reason(ControlAdmission.hello(facts(n, pid: 5, holder: holder), holderConnected: { false }, heldByProcess: { _ in true })) == .nameTaken)
        // The holder again: nothing changes. A peer holding another name: refused.
        #expect(ControlAdmission.hello(facts(n, holder: holder, senderHolds: "cli-1"), holderConnected: { true }, heldByProcess: { _ in true }) == .repeated)
        #expect(reason(ControlAdmission.hello(facts(n, holder: holder, senderHolds: "cli-2"), holderConnected: { true }, heldByProcess: { _ in true })) == .secondName)
        // Restarted: the new process's HELLO replaces the old peer; not before it runs.
        n.expectExit(relaunch: true)
        _ = n.ended(pid: 100, status: .signaled(15))
        #expect(reason(ControlAdmission.hello(facts(n, pid: 100, holder: holder), holderConnected: { false }, heldByProcess: { _ in true })) == .notLaunched)
        n.started(pid: 200)
        #expect(ControlAdmission.hello(facts(n, pid: 200, holder: holder), holderConnected: { true }, heldByProcess: { _ in true }) == .register(replacing: true))
    }

    @Test("HELLO under the external launcher: the first peer, then a new one after BYE or a closed connection")
    func helloExternal() {
        var n = node()
        n.awaited("start it")
        #expect(ControlAdmission.hello(facts(n, owns: false), holderConnected: { true }, heldByProcess: { _ in true }) == .register(replacing: false))
        n.registered(pid: 100, external: true, now: 0)
        var holder = Registration(identity: [0, 1], pid: 100)
        var asked = false
        #expect(reason(ControlAdmission.hello(facts(n, pid: 7, holder: holder, owns: false), holderConnected: { asked = true; return true }, heldByProcess: { _ in true }))
                == .nameTaken)
        #expect(asked)
        #expect(ControlAdmission.hello(facts(n, pid: 7, holder: holder, owns: false), holderConnected: { false }, heldByProcess: { _ in true }) == .register(replacing: true))
        holder.saidBye = true
        #expect(ControlAdmission.hello(facts(n, pid: 7, holder: holder, owns: false), holderConnected: { true }, heldByProcess: { _ in true }) == .register(replacing: true))
    }

    @Test("a new peer after the old one's connection closed is a new incarnation: it gets START again")
    func externalReplacement() {
        var n = node()
        n.awaited("start it")
        n.registered(pid: 100, external: true, now: 0)
        n.becameReady()
        n.startSent()
        n.registered(pid: 101, external: true, replacing: true, now: 1)
        #expect(n.lifecycle == .registered(Incarnation(pid: nil)) && n.history.pids == [100, 101])
    }

    @Test("FINAL only from a node that is stopping, once; or from any during teardown")
    func final() {
        var n = node()
        n.started(pid: 100)
        n.registered(pid: 100, external: false, now: 0)
        var r = Registration(identity: [0, 1], pid: 100)
        let f = NodeMessage.final(Clustersim_V1_FinalMetrics())
        #expect(reason(ControlAdmission.message(f, from: n, registration: r, tearingDown: false)) == .finalNotStopping)
        n.becameReady()
        #expect(reason(ControlAdmission.message(f, from: n, registration: r, tearingDown: false)) == .finalNotStopping)
        #expect(ControlAdmission.message(f, from: n, registration: r, tearingDown: true) == .accept)
        #expect(ControlAdmission.message(.stats(Clustersim_V1_Stats()), from: n, registration: r, tearingDown: false) == .accept)
        n.expectExit()
        #expect(ControlAdmission.message(f, from: n, registration: r, tearingDown: false) == .accept)
        r.finalTaken = true
        #expect(reason(ControlAdmission.message(f, from: n, registration: r, tearingDown: false)) == .finalRepeated)
        // Read after the process was reaped: still its own.
        r.finalTaken = false
        _ = n.ended(pid: 100, status: .exited(0))
        #expect(ControlAdmission.message(f, from: n, registration: r, tearingDown: false) == .accept)
    }

    @Test("an earlier process's READY or STATS is stale once a newer one runs; its late FINAL after an expected end is taken")
    func superseded() {
        var n = node()
        n.started(pid: 100)
        n.registered(pid: 100, external: false, now: 0)
        let r = Registration(identity: [0, 1], pid: 100)
        n.expectExit(relaunch: true)
        _ = n.ended(pid: 100, status: .signaled(15))
        n.started(pid: 200)
        #expect(reason(ControlAdmission.message(.ready, from: n, registration: r, tearingDown: false)) == .stale)
        #expect(ControlAdmission.message(.final(Clustersim_V1_FinalMetrics()), from: n, registration: r, tearingDown: false) == .accept)
        // …and does not count as the new process's.
        n.receivedFinal(Clustersim_V1_FinalMetrics())
        #expect(!n.lifecycle.finalReceived)
    }

    @Test("refusals are counted by reason; the first 50 of each are logged, the rest only counted")
    func refusals() {
        var r = ControlRefusals()
        var logged = 0
        for _ in 0..<120 { if r.count(.malformed) != .countOnly { logged += 1 } }
        #expect(r.count(.unknownPeer) == .log)
        #expect(logged == 50 && r.counts[.malformed] == 120 && r.total == 121)
    }
}
