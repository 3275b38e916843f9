import Testing

@testable import ClusterOrchestrator

/// Whether a topology fits the machine, decided before launching.
@Suite("Preflight")
struct PreflightTests {
    static let roomy = MachineLimits(memoryAvailable: 24 << 30, threadsMax: 190_000, pidMax: 4_194_304, processLimit: 96_000,
                                     openFiles: (20_000, 20_000))

    @Test("a hundred nodes fit a roomy machine")
    func fits() {
        #expect(Preflight.problems(nodes: 102, ownsProcesses: true, limits: Self.roomy).isEmpty)
    }

    @Test("a file-descriptor limit below what the orchestrator needs is named, with the remedy")
    func fileLimit() {
        var l = Self.roomy
        l.openFiles = (512, 512)
        let p = Preflight.problems(nodes: 401, ownsProcesses: true, limits: l)
        #expect(p.count == 1 && p[0].contains("866 file descriptors for 401 nodes") && p[0].contains("at most 512 (ulimit -Hn)"), "\(p)")
        // Only the hard limit counts: the soft one is raised.
        l.openFiles = (256, 4_096)
        #expect(Preflight.problems(nodes: 401, ownsProcesses: true, limits: l).isEmpty)
    }

    @Test("memory and threads: the machine's own figures in the message; an external run checks only descriptors")
    func machine() {
        var l = Self.roomy
        l.memoryAvailable = 2 << 30
        l.processLimit = 500
        let p = Preflight.problems(nodes: 100, ownsProcesses: true, limits: l)
        #expect(p.contains { $0.contains("this machine has 2.0 GB available: at most about 68 nodes fit") }, "\(p)")
        #expect(p.contains { $0.contains("more than the process limit (ulimit -u) allows (500)") }, "\(p)")
        #expect(Preflight.problems(nodes: 100, ownsProcesses: false, limits: l).isEmpty)
    }
}
