import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Docker engine for the container tests: the one that answers, or one
/// `scripts/docker-engine.sh` starts for them (and stops after the suite).
enum DockerEngine {
    /// The lease the tests hold on an engine the script started (scripts/docker-engine.sh).
    static let lease = ["CLUSTERSIM_ENGINE_LEASE": "\(getpid())"]

    /// Whether an engine answers (started once for the whole test process, off the
    /// cooperative pool), and whether it was started for the tests. When it cannot
    /// be, why is printed and the suite is skipped.
    @Sendable static func start() async -> Bool {
        let found = await probing.value
        state.set(found)
        return found.available
    }

    /// The one probe, however many tests ask.
    private static let probing = Task<(available: Bool, startedHere: Bool), Never> {
        (try? await offPool { probe() }) ?? (false, false)
    }
    private static let state = Locked<(available: Bool, startedHere: Bool)?>(nil)
    static var available: Bool { state.get()?.available ?? false }
    static var startedHere: Bool { state.get()?.startedHere ?? false }

    private static func probe() -> (available: Bool, startedHere: Bool) {
        func skipped(_ why: String) -> (Bool, Bool) {
            FileHandle.standardError.write(Data("container tests skipped: \(why)\n".utf8))
            return (false, false)
        }
        guard getuid() == 0 else { return skipped("they need root (dockerd, debootstrap, nsenter)") }
        for tool in ["docker", "dockerd", "docker-compose"] where ComposeTools.which(tool) == nil {
            return skipped("\(tool) is not installed (scripts/setup.sh installs docker.io and docker-compose)")
        }
        let before = script("status")
        let started = script("start")
        guard started.status == 0 else {
            return skipped("no Docker engine answers and none could be started: \(started.stderr)")
        }
        return (true, before.status != 0)
    }

    /// Runs `scripts/docker-engine.sh VERB` under the tests' lease.
    @discardableResult
    static func script(_ verb: String) -> Harness.Result {
        let (p, o, e) = try! Harness.start(Harness.root + "/scripts/docker-engine.sh", [verb], environment: lease)
        return Harness.wait(p, o, e, timeout: 120)
    }

    /// Runs `docker ARGS…`.
    static func docker(_ args: [String]) -> Harness.Result {
        let (p, o, e) = try! Harness.start(ComposeTools.which("docker")!, args)
        return Harness.wait(p, o, e, timeout: 120)
    }

    /// The containers, networks and volumes of the stacks the launchers deploy (`clustersim<pid>…`).
    static func leftovers() -> [String] {
        var out: [String] = []
        for (kind, args) in [("container", ["ps", "-a", "--format", "{{.Names}}"]), ("network", ["network", "ls", "--format", "{{.Name}}"]),
                             ("volume", ["volume", "ls", "--format", "{{.Name}}"])] {
            out += docker(args).stdout.split(separator: "\n").filter { $0.hasPrefix("clustersim") }.map { "\(kind) \($0)" }
        }
        return out
    }

    /// What the engine's swarm is: `inactive`, `active` …
    static func swarmState() -> String {
        docker(["info", "-f", "{{.Swarm.LocalNodeState}}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Returns the tests' lease after the suite: an engine started for them is stopped, and must be gone.
struct EngineLease: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await function()
        guard DockerEngine.available else { return }
        let (stop, status) = try await offPool { (DockerEngine.script("stop"), DockerEngine.script("status")) }
        guard DockerEngine.startedHere else { return }
        #expect(status.stdout.hasPrefix("not running") || status.stderr.contains("lease"),
                "the engine started for the tests is still there: \(status.stdout) \(stop.stderr)")
    }
}

/// The container launchers end to end on a real engine: the image built
/// without a registry, the compose demo, swarm, faults against containers.
/// Each run is a few seconds long; the image holds the binaries under test.
@Suite("containers", .serialized, EngineLease(),
       .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"),
       .enabled("no Docker engine answers and none could be started here (the reason is printed above)", DockerEngine.start))
struct ContainerTests {
    /// The binaries under test, as the image's and the launcher's.
    static let environment = ["CLUSTERSIM_BIN_DIR": Harness.binDirectory, "CLUSTERSIM_IMAGE_BIN_DIR": Harness.binDirectory]

    @Test("scripts/compose-demo.sh: image, run; every reader gets every version, the SLOs pass, the report is in runs/, nothing is left")
    func composeDemo() async throws {
        let runs = Harness.root + "/runs"
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? [])
        let r = try await Harness.run(Harness.root + "/scripts/compose-demo.sh", ["--duration", "3s"], timeout: 900,
                                      environment: Self.environment)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? [])
        let new = after.subtracting(before).filter { $0.hasPrefix("compose-demo-") }
        defer { for d in new { try? FileManager.default.removeItem(atPath: runs + "/" + d) } }
        #expect(r.status == 0, "exit \(r.status)\n\(r.stdout.suffix(3000))\n\(r.stderr.suffix(3000))")
        #expect(new.count == 1, "run directories made in runs/: \(new)")
        let dir = try #require(new.first.map { runs + "/" + $0 }, "no run directory in runs/: \(r.stdout.suffix(2000))")
        let report = try RunReport.load(path: dir + "/report.json")
        #expect(report.launcher == "compose")
        Self.expectEveryVersion(report, readers: 8)
        #expect(report.sloPassed, "\(report.slo.filter { !$0.pass })")
        // The log readers' files were moved into the run directory: a line per version received at least.
        for log in ["log-1", "log-2"] {
            let lines = try String(contentsOfFile: dir + "/nodes/\(log)/snapshots.jsonl", encoding: .utf8).split(separator: "\n")
            let received = report.nodes.first { $0.name == log }?.received ?? 0
            #expect(lines.count >= Int(received) && received > 0, "\(log): \(lines.count) lines for \(received) received")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/../nodes"), "node files left beside the run directory")
        #expect(FileManager.default.fileExists(atPath: dir + "/stack.yml"))
        #expect(r.stdout.contains("all 10 nodes ready in"), "\(r.stdout.prefix(2000))")
        #expect(DockerEngine.docker(["image", "inspect", "clustersim:latest"]).status == 0, "scripts/image.sh made clustersim:latest")
        #expect(DockerEngine.leftovers().isEmpty, "\(DockerEngine.leftovers())")
    }

    @Test("--launcher swarm: compose-demo.json, then a kill, a restart, a partition and a pause against containers, recorded as faults are")
    func swarm() async throws {
        try await Self.makeImage()
        let swarmBefore = DockerEngine.swarmState()
        let dir = Harness.tempDirectory("swarm")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let report = try await Self.runSwarm("compose-demo.json", duration: "3s", out: dir + "/demo")
        #expect(report.launcher == "swarm")
        Self.expectEveryVersion(report, readers: 8)
        #expect(report.sloPassed, "\(report.slo.filter { !$0.pass })")
        #expect(DockerEngine.leftovers().isEmpty, "\(DockerEngine.leftovers())")

        let f = try await Self.runSwarm("container-faults.json", duration: "8s", out: dir + "/faults")
        #expect(f.launcher == "swarm")
        // Each fault and its follow-up applied on time, as the local and netns launchers record them.
        let records = f.faults.map { "\($0.action) \($0.target) \($0.outcome)" }
        #expect(records.sorted() == ["heal log-1 applied", "kill cli-1 applied", "partition log-1 applied", "pause query-1 applied",
                                     "restart cli-1 applied", "resume query-1 applied"],
                "\(f.faults.map { "\($0.action) \($0.target): \($0.outcome) \($0.detail)" })")
        for r in f.faults {
            let late = (r.appliedAtSeconds ?? 99) - r.plannedAtSeconds
            #expect(late >= 0 && late < 3, "\(r.action) \(r.target): applied \(late) s after its time")
            #expect(r.source.hasPrefix("faults["), "\(r.action) \(r.target): \(r.source)")
        }
        #expect(f.faults.first?.detail.hasPrefix("container ") == true, "the kill names the container: \(f.faults.first?.detail ?? "")")
        // What each fault did to its target: they show in the nodes as under the local launcher.
        let node = { (name: String) in f.nodes.first { $0.name == name } }
        let killed = try #require(node("cli-1"))
        #expect(killed.restarts == 1 && killed.status == .completed && !killed.fast, "cli-1: \(killed.status), \(killed.restarts) restarts")
        #expect(killed.received < f.writer.published, "cli-1 was down for 3 s: \(killed.received) of \(f.writer.published)")
        let partitioned = try #require(node("log-1"))
        #expect(!partitioned.fast && partitioned.latency.maxUs >= 1_000_000, "log-1 cut off from the writer for 2 s: max \(partitioned.latency.maxUs) µs")
        let paused = try #require(node("query-1"))
        #expect(!paused.fast && paused.latency.maxUs >= 500_000, "query-1 paused for 1 s: max \(paused.latency.maxUs) µs")
        for name in ["log-2", "cli-2", "cli-3"] {
            let n = try #require(node(name))
            #expect(n.fast && n.status == .completed && n.lost == 0, "\(name), no fault aimed at it: \(n.status), lost \(n.lost)")
        }
        #expect(f.sloPassed, "the readers no fault was aimed at lost nothing: \(f.slo.filter { !$0.pass })")
        #expect(DockerEngine.leftovers().isEmpty, "\(DockerEngine.leftovers())")
        #expect(DockerEngine.swarmState() == swarmBefore, "the swarm is left as it was")
        if swarmBefore != "active" {
            #expect(DockerEngine.docker(["network", "inspect", "docker_gwbridge"]).status != 0, "the swarm's gateway bridge is removed")
        }
    }

    @Test("CURVE under compose and swarm: a key pair per service (a replicated group's shared) as secrets, the fault agent's own; every version, nothing refused, no key left")
    func curve() async throws {
        try await Self.makeImage()
        let swarmBefore = DockerEngine.swarmState()
        let dir = Harness.tempDirectory("curve")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for launcher in ["compose", "swarm"] {
            let out = dir + "/" + launcher
            let r = try await Harness.run(Harness.orchestrator, ["run", "--launcher", launcher, Harness.root + "/topologies/compose-curve.json",
                                                                 "--duration", "3s", "--out", out], timeout: 300)
            #expect(r.status == 0, "\(launcher): exit \(r.status)\n\(r.stdout.suffix(3000))\n\(r.stderr.suffix(2000))")
            let run = try #require(try FileManager.default.contentsOfDirectory(atPath: out).first, "\(launcher): no run directory")
            let report = try RunReport.load(path: out + "/" + run + "/report.json")
            Self.expectEveryVersion(report, readers: 8)
            let security = try #require(report.security, "\(launcher): no security section")
            // 10 nodes and the fault agent on the control plane, 8 readers and the load generator's clients on their servers.
            #expect(security.mode == "curve" && security.admitted >= 11 && security.total == 0,
                    "\(launcher): admitted \(security.admitted), refused \(security.total): \(security.refusals)")
            #expect(r.stdout.contains("fault agent connected"), "\(launcher): \(r.stdout.prefix(2000))")
            // The keys lived in the launcher's working directory, which is gone; no run output holds a secret certificate.
            let said = r.stdout.split(separator: "\n").first { $0.hasPrefix("CURVE: ") }
            let keys = try #require(said?.split(separator: " ").last.map(String.init), "\(launcher): where the keys were is not said")
            #expect(!FileManager.default.fileExists(atPath: keys), "\(launcher): \(keys) left behind")
            let files = FileManager.default.enumerator(atPath: out + "/" + run)?.compactMap { $0 as? String } ?? []
            for file in files {
                let text = (try? String(contentsOfFile: out + "/" + run + "/" + file, encoding: .utf8)) ?? ""
                #expect(!text.contains("secret-key") && !file.hasSuffix(".key_secret"), "\(launcher): \(file) holds a secret certificate")
            }
            #expect(files.contains("stack.yml"))
        }
        #expect(DockerEngine.leftovers().isEmpty, "\(DockerEngine.leftovers())")
        #expect(DockerEngine.swarmState() == swarmBefore, "the swarm is left as it was")
    }

    /// The image of the binaries under test (made by the compose test too; quick when it is up to date).
    static func makeImage(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let image = try await Harness.run(Harness.root + "/scripts/image.sh", [], timeout: 900, environment: Self.environment)
        try #require(image.status == 0, "scripts/image.sh: \(image.stderr.suffix(2000))", sourceLocation: sourceLocation)
    }

    /// Runs `topologies/TOPOLOGY` through the swarm launcher for `duration`; it must pass.
    /// - Returns: the report it copied into `out`.
    static func runSwarm(_ topology: String, duration: String, out: String,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunReport {
        let r = try await Harness.run(Harness.orchestrator, ["run", "--launcher", "swarm", Harness.root + "/topologies/" + topology,
                                                             "--duration", duration, "--out", out], timeout: 300)
        #expect(r.status == 0, "exit \(r.status)\n\(r.stdout.suffix(3000))\n\(r.stderr.suffix(2000))", sourceLocation: sourceLocation)
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: out).first, "no run directory in \(out)",
                               sourceLocation: sourceLocation)
        return try RunReport.load(path: out + "/" + run + "/report.json")
    }

    /// Every reader ended well and has every version the writer published: updates
    /// from its start snapshot on, with nothing lost or skipped.
    static func expectEveryVersion(_ report: RunReport, readers: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let published = report.writer.published
        #expect(published > 0 && report.writer.finalVersion == published, "writer: \(published) published", sourceLocation: sourceLocation)
        let readerNodes = report.nodes.filter { $0.role.isReader }
        #expect(readerNodes.count == readers, sourceLocation: sourceLocation)
        for n in readerNodes {
            let covered = n.received + n[.snapshotsApplied]
            #expect(n.status == .completed && n.lost == 0 && n[.skipped] == 0 && covered >= published,
                    "\(n.name): \(n.status), received \(n.received) (+ start snapshot) of \(published), lost \(n.lost), skipped \(n[.skipped])",
                    sourceLocation: sourceLocation)
        }
    }
}
