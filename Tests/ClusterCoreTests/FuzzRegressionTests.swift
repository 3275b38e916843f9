import Foundation
import SwiftProtobuf
import Testing

@testable import ClusterCore

/// The fuzz targets' committed inputs, replayed through the checks the fuzz
/// targets run (FuzzChecks.swift): every seed of `Fuzz/Corpus/<target>/`, and
/// every input of `Fuzz/Regressions/<target>/`, each named
/// `<what>.<outcome>` (`accepted` or `rejected`) for what the code under
/// test must do with it.
@Suite("Fuzzing: seed corpus and regressions")
struct FuzzRegressionTests {
    static let fuzzDirectory = repositoryRoot.appendingPathComponent("Fuzz")

    /// The files of `directory`, sorted; dot files are not inputs. A missing
    /// directory has none (a target without regressions has no directory).
    static func inputs(_ directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func check(_ target: FuzzTarget, _ file: URL) throws -> FuzzOutcome {
        let bytes = try Data(contentsOf: file)
        return try bytes.withUnsafeBytes { try target.check($0) }
    }

    @Test("every seed replays without a violation, and some are accepted", arguments: FuzzTarget.allCases)
    func seeds(_ target: FuzzTarget) throws {
        let files = try Self.inputs(Self.fuzzDirectory.appendingPathComponent("Corpus/\(target.rawValue)"))
        #expect(files.count >= 5, "a seed corpus of \(files.count) files")
        var accepted = 0
        for file in files {
            do {
                if try Self.check(target, file) == .accepted { accepted += 1 }
            } catch {
                Issue.record("\(file.lastPathComponent): \(error)")
            }
        }
        #expect(accepted > 0)
    }

    @Test("every regression input replays without a violation, with its outcome", arguments: FuzzTarget.allCases)
    func regressions(_ target: FuzzTarget) throws {
        let directory = Self.fuzzDirectory.appendingPathComponent("Regressions/\(target.rawValue)")
        for file in try Self.inputs(directory) {
            guard let expected = FuzzOutcome(rawValue: file.pathExtension) else {
                Issue.record("\(file.lastPathComponent): name it <what>.accepted or <what>.rejected")
                continue
            }
            do {
                let outcome = try Self.check(target, file)
                #expect(outcome == expected, "\(file.lastPathComponent)")
            } catch {
                Issue.record("\(file.lastPathComponent): \(error)")
            }
        }
    }

    /// Writes the seed corpus: `CLUSTERSIM_FUZZ_SEEDS=Fuzz/Corpus swift test --filter FuzzRegressionTests`
    /// (or `scripts/fuzz.sh --seeds`). Skipped otherwise.
    @Test("write the seed corpus", .enabled(if: ProcessInfo.processInfo.environment["CLUSTERSIM_FUZZ_SEEDS"] != nil))
    func writeSeeds() throws {
        let out = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CLUSTERSIM_FUZZ_SEEDS"]!)
        for target in FuzzTarget.allCases {
            let directory = out.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, bytes) in try FuzzSeeds.seeds(target) {
                // A seed must be valid input for its target before it is written.
                let outcome = try Data(bytes).withUnsafeBytes { try target.check($0) }
                _ = outcome
                try Data(bytes).write(to: directory.appendingPathComponent(name))
            }
        }
    }
}

/// The seed corpus: real frames, snapshots and messages made by the
/// project's own encoders, the ready topologies and the bad-topology corpus.
enum FuzzSeeds {
    static func seeds(_ target: FuzzTarget) throws -> [(String, [UInt8])] {
        switch target {
        case .frame: return try frames()
        case .snapshot: return try snapshots()
        case .snapshotFile: return try stateFiles()
        case .messages: return try messages()
        case .topology: return try topologies()
        }
    }

    /// Snapshots of every kind the writer makes, and the edge values.
    static var sampleSnapshots: [(String, Snapshot)] {
        let run = WireFixtures.snapshots(count: 40, seed: 11, historyLimit: 4)
        let odd = Snapshot(
            version: .max, epoch: .max, state: .errorState, prevState: .shutdown, reason: "ünïcødé ✓ \"quoted\"\n",
            snapshotID: "\(UInt64.max)-\(UInt64.max)", fsmInstanceID: "", sourceModule: "mod",
            attemptCount: .max, monotonicNanos: .max, wallNanos: 1,
            history: [HistoryEntry(from: .idle, to: .active, event: "activate", reason: "ø", version: 0, wallNanos: .max)],
            contextData: Data((0...31).map { UInt8($0) }))
        let empty = Snapshot(
            version: 0, epoch: 0, state: .unspecified, prevState: .unspecified, reason: "", snapshotID: "",
            fsmInstanceID: "", sourceModule: "", attemptCount: 0, monotonicNanos: 0, wallNanos: 0, history: [],
            contextData: Data())
        return [("initial", run[0]), ("second", run[1]), ("history-4", run[39]), ("rich-payload-512", WireFixtures.rich),
                ("edge-values", odd), ("empty", empty)]
    }

    static func frames() throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for (name, s) in sampleSnapshots where name != "rich-payload-512" {
            out.append(("snp1-\(name)", WireFixtures.frame(s).bytes))
        }
        out.append(("snp1-coalesced", WireFixtures.frame(sampleSnapshots[2].1, coalesced: 9).bytes))
        out.append(("snp1-no-snapshot", Array("SNP1".utf8) + WireFixtures.tag(1, 0) + [1] + WireFixtures.tag(2, 0) + [2]))
        var env = Clustersim_V1_Envelope()
        env.epoch = WireFixtures.epoch
        env.version = 41
        env.sendMonotonicNs = 123_456_789
        env.sendWallNs = 1_714_000_000_987_654_321
        env.snapshot = sampleSnapshots[1].1.proto
        env.coalesced = 2
        out.append(("snp1-protobuf-unknown-fields", Array("SNP1".utf8) + WireFixtures.unknownFields + (try env.serializedBytes() as [UInt8])))
        out.append(("snp1-ten-byte-varint", Array("SNP1".utf8) + WireFixtures.tag(2, 0) + WireFixtures.varint(.max)))
        out.append(("hbt1", FrameCodec.heartbeat(epoch: WireFixtures.epoch, version: 99_999, sequence: 12)))
        out.append(("hbt1-max", FrameCodec.heartbeat(epoch: .max, version: .max, sequence: .max)))
        var hb = Clustersim_V1_Heartbeat()
        hb.epoch = 9
        hb.version = 77
        hb.sendMonotonicNs = 5_000
        hb.sequence = 3
        out.append(("hbt1-protobuf-unknown-fields", Array("HBT1".utf8) + (try hb.serializedBytes() as [UInt8]) + WireFixtures.unknownFields))
        var batch = BatchFrameBuilder()
        batch.begin(epoch: WireFixtures.epoch)
        for (i, (_, s)) in sampleSnapshots.prefix(3).enumerated() {
            batch.append(encodedSnapshot: s.encoded(), version: 100 + UInt64(i), madeMonotonicNanos: 5_000 + UInt64(i),
                         madeWallNanos: 1_714_000_000_000_000_000 + UInt64(i))
        }
        _ = batch.stampAndSend { _ in }
        out.append(("snb1-three", batch.bytes))
        var b = Clustersim_V1_Batch()
        b.epoch = 9
        b.sendMonotonicNs = 6_000
        b.entries = [env, env]
        out.append(("snb1-protobuf-unknown-fields", Array("SNB1".utf8) + (try b.serializedBytes() as [UInt8]) + WireFixtures.unknownFields))
        out.append(("end1", FrameCodec.endOfStream(epoch: WireFixtures.epoch, finalVersion: 99_999, published: 99_998)))
        for kind in FrameKind.allCases {
            out.append(("\(String(decoding: kind.prefix, as: UTF8.self).lowercased())-prefix-only", kind.prefix))
        }
        return out
    }

    static func snapshots() throws -> [(String, [UInt8])] {
        var out = sampleSnapshots.map { ($0.0, $0.1.encoded()) }
        out.append(("unknown-fields", sampleSnapshots[1].1.encoded() + WireFixtures.unknownFields))
        out.append(("unknown-state", WireFixtures.tag(3, 0) + [42] + WireFixtures.tag(1, 0) + [7]))
        return out
    }

    static func stateFiles() throws -> [(String, [UInt8])] {
        let encoder = FuzzChecks.stateFileEncoder()
        var out: [(String, [UInt8])] = []
        for (name, s) in sampleSnapshots where name != "rich-payload-512" {
            // edge-values and empty are refused: implausible, and version 0.
            out.append((name + ".json", Array(try encoder.encode(s))))
        }
        let text = Array(try encoder.encode(sampleSnapshots[1].1))
        out.append(("cut-short.json", Array(text.prefix(text.count / 2))))
        return out
    }

    static func messages() throws -> [(String, [UInt8])] {
        typealias Control = Clustersim_V1_ControlMessage
        var bodies: [(String, Control.OneOf_Body)] = []
        var hello = Clustersim_V1_Hello()
        hello.node = "cli-3"
        hello.role = "cli"
        hello.pid = 4242
        hello.host = "vm"
        hello.incarnation = 1_714_000_000_000_000_000
        hello.pubEndpoint = "tcp://127.0.0.1:5555"
        hello.claimGroup = "cli"
        bodies.append(("hello", .hello(hello)))
        var ready = Clustersim_V1_Ready()
        ready.node = "writer"
        ready.epoch = WireFixtures.epoch
        ready.version = 1
        bodies.append(("ready", .ready(ready)))
        var start = Clustersim_V1_Start()
        start.runID = 7
        start.startWallNs = 1_714_000_000_000_000_000
        start.measureFromWallNs = 1_714_000_001_000_000_000
        start.clockCorrectionNs = -1_234
        start.hasClockCorrection_p = true
        bodies.append(("start", .start(start)))
        var stats = Clustersim_V1_Stats()
        stats.node = "log-2"
        stats.seq = 3
        stats.received = 1_000
        stats.lost = 2
        stats.intervalLatency.count = 1_000
        stats.intervalLatency.p50Us = 1_800.5
        stats.intervalLatency.p99Us = 25_000
        stats.cpuSeconds = 0.25
        stats.rssBytes = 28_000_000
        bodies.append(("stats", .stats(stats)))
        var stop = Clustersim_V1_Stop()
        stop.reason = "duration elapsed"
        stop.finalVersion = 20_008
        stop.finalEpoch = WireFixtures.epoch
        bodies.append(("stop", .stop(stop)))
        var final = Clustersim_V1_FinalMetrics()
        final.node = "query-4"
        final.metricsJson = #"{"received": 20007}"#
        final.metricsProm = "clustersim_received_total 20007\n"
        final.histogram = Data([0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 1])
        bodies.append(("final-metrics", .final(final)))
        var timeRequest = Clustersim_V1_TimeRequest()
        timeRequest.sequence = 1
        timeRequest.orchestratorWallNs = 1_714_000_000_000_000_000
        bodies.append(("time-request", .timeRequest(timeRequest)))
        var timeReply = Clustersim_V1_TimeReply()
        timeReply.sequence = 1
        timeReply.orchestratorWallNs = 1_714_000_000_000_000_000
        timeReply.nodeWallNs = 1_714_000_000_000_100_000
        timeReply.nodeMonotonicNs = 9_000_000
        bodies.append(("time-reply", .timeReply(timeReply)))
        var bye = Clustersim_V1_Bye()
        bye.node = "cli-54"
        bye.reason = "stopped"
        bodies.append(("bye", .bye(bye)))
        var welcome = Clustersim_V1_Welcome()
        welcome.node = "cli-7"
        welcome.seed = 42
        bodies.append(("welcome", .welcome(welcome)))
        var delay = Clustersim_V1_AddDelay()
        delay.delayNs = 50_000_000
        delay.forNs = 2_000_000_000
        bodies.append(("add-delay", .addDelay(delay)))

        var out: [(String, [UInt8])] = []
        for (name, body) in bodies {
            var m = Control()
            m.body = body
            out.append(("control-\(name)", try m.serializedBytes()))
        }
        let snapshot = sampleSnapshots[2].1
        var request = Clustersim_V1_SnapshotRequest()
        request.client = "log-2"
        request.requestID = 3
        out.append(("snapshot-request", try request.serializedBytes()))
        var reply = Clustersim_V1_SnapshotReply()
        reply.requestID = 3
        reply.epoch = snapshot.epoch
        reply.version = snapshot.version
        reply.snapshot = snapshot.proto
        reply.sendMonotonicNs = 9_000_000
        out.append(("snapshot-reply", try reply.serializedBytes()))
        let kinds: [(String, Clustersim_V1_QueryRequest.OneOf_Kind)] = [
            ("latest", .getLatest(Clustersim_V1_GetLatest())),
            ("version", .getVersion(Clustersim_V1_GetVersion.with { $0.version = 38 })),
            ("health", .health(Clustersim_V1_HealthRequest())),
            ("metrics", .metrics(Clustersim_V1_MetricsRequest())),
        ]
        for (name, kind) in kinds {
            var q = Clustersim_V1_QueryRequest()
            q.requestID = 11
            q.kind = kind
            q.sendMonotonicNs = 9_000_000
            out.append(("query-request-\(name)", try q.serializedBytes()))
        }
        var ok = Clustersim_V1_QueryReply()
        ok.requestID = 11
        ok.status = .ok
        ok.snapshot = snapshot.proto
        ok.oldestVersion = 30
        ok.newestVersion = 40
        out.append(("query-reply-ok", try ok.serializedBytes()))
        var busy = Clustersim_V1_QueryReply()
        busy.requestID = 12
        busy.status = .busy
        busy.message = "worker pool full"
        out.append(("query-reply-busy", try busy.serializedBytes()))
        var health = Clustersim_V1_QueryReply()
        health.requestID = 13
        health.health = "ok"
        health.metricsJson = #"{"received": 20007}"#
        out.append(("query-reply-health", try health.serializedBytes()))
        return out
    }

    static func topologies() throws -> [(String, [UInt8])] {
        let directory = repositoryRoot.appendingPathComponent("topologies")
        var out: [(String, [UInt8])] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() where name.hasSuffix(".json") {
            out.append((name, Array(try Data(contentsOf: directory.appendingPathComponent(name)))))
        }
        // The rejected corpus: every error path of the parser and the validation.
        for (i, bad) in badTopologies.enumerated() {
            let slug = bad.name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
            out.append((String(format: "bad-%02d-", i) + String(slug.prefix(40)) + ".json", Array(bad.json.utf8)))
        }
        return out
    }
}
