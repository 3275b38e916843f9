import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// CURVE with real processes (docs/security.md): strangers get nothing and
/// are counted, a wrong key is refused and named in the report, the run's
/// own nodes work under the local and netns launchers, the key files are
/// private and no secret reaches any output.
@Suite("CURVE", .serialized, .enabled(if: Harness.binariesExist && Context.has("curve"), "build the executables first (scripts/test.sh does)"))
struct SecurityTests {
    /// A key pair as a secret certificate, mode 0600.
    static func writeKey(_ pair: CurveKeyPair, name: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(fd >= 0, "cannot create \(path)")
        defer { close(fd) }
        let text = Array(CurveKeyFile.text(name: name, publicKey: pair.publicKey, secretKey: pair.secretKey).utf8)
        #expect(text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count)
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0o7777
    }

    /// A port the kernel hands out as free now (bound to port 0, read back,
    /// closed): a different one each call, unlike a scan from a fixed base,
    /// which suites running beside each other would agree on.
    static func ephemeralPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, length) == 0 ? getsockname(fd, a, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Frames a socket gets within `seconds`.
    static func count(_ socket: borrowing Socket, seconds: Double) throws -> Int {
        var n = 0
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try socket.receive(timeout: .milliseconds(50)) != nil { n += 1 }
        }
        return n
    }

    static func metrics(_ dir: String) throws -> NodeMetrics {
        try NodeMetrics.decode(json: String(contentsOfFile: dir + "/metrics.json", encoding: .utf8))
    }

    @Test("a writer under CURVE: a subscriber without keys, one with a key of its own and a direct reader with one receive nothing, the writer counts them and the direct reader its refusals; the cluster's reader receives")
    func strangersGetNothing() async throws {
        let dir = Harness.tempDirectory("curve-hand")
        let writerKeys = try CurveKeyPair.generate(), readerKeys = try CurveKeyPair.generate(), strangerKeys = try CurveKeyPair.generate()
        try Self.writeKey(writerKeys, name: "writer", to: dir + "/writer.key_secret")
        try Self.writeKey(readerKeys, name: "r1", to: dir + "/r1.key_secret")
        try Self.writeKey(strangerKeys, name: "r2", to: dir + "/r2.key_secret")
        var peers = CurvePeers()
        peers.set("writer", writerKeys.publicKey)
        peers.set("r1", readerKeys.publicKey)
        try peers.text(title: "test").write(toFile: dir + "/peers", atomically: true, encoding: .utf8)
        let (pub, snap) = ("tcp://127.0.0.1:\(Self.ephemeralPort())", "tcp://127.0.0.1:\(Self.ephemeralPort())")
        let curve = ["--security", "curve", "--curve-peers", dir + "/peers"]
        let env = ["CLUSTERSIM_TEST_TAG": "curve-hand"]
        let writer = try Harness.start(Harness.clusterNode, ["writer", "--pub", pub, "--snapshots", snap, "--rate", "200", "--duration", "5s",
                                                             "--metrics-dir", dir + "/writer", "--curve-key", dir + "/writer.key_secret"] + curve,
                                       environment: env)
        let reader = try Harness.start(Harness.clusterNode, ["reader", "--name", "r1", "--pub", pub, "--snapshots", snap, "--duration", "4s",
                                                             "--metrics-dir", dir + "/r1", "--curve-key", dir + "/r1.key_secret"] + curve,
                                       environment: env)
        // A reader reading ZMTP itself, with a key the writer does not admit.
        let direct = try Harness.start(Harness.clusterNode, ["reader", "--name", "r2", "--pub", pub, "--snapshots", snap, "--duration", "3s",
                                                             "--subscriber", "direct", "--metrics-dir", dir + "/r2",
                                                             "--curve-key", dir + "/r2.key_secret"] + curve,
                                       environment: env)
        // Two strangers: one without CURVE, one with a key pair of its own (it knows the
        // writer's public key: public keys are not secret).
        let got = try await offPool { () throws -> [Int] in
            let context = try Context()
            let plain = try context.socket(.sub)
            try plain.setLinger(.zero)
            try plain.subscribe("")
            try plain.connect(pub)
            let keyed = try context.socket(.sub)
            try keyed.setLinger(.zero)
            try keyed.setCurveServerKey(writerKeys.publicKey)
            try keyed.setCurvePublicKey(strangerKeys.publicKey)
            try keyed.setCurveSecretKey(strangerKeys.secretKey)
            try keyed.subscribe("")
            try keyed.connect(pub)
            return [try Self.count(plain, seconds: 2.5), try Self.count(keyed, seconds: 0.5)]
        }
        let nodes = [writer, reader, direct]
        let exits = try await offPool { nodes.map { Harness.wait($0.0, $0.1, $0.2, timeout: 20) } }
        #expect(exits.map(\.status) == [0, 0, 0], "\(exits.map(\.stderr))")
        #expect(got == [0, 0], "strangers received \(got) frames")
        let w = try Self.metrics(dir + "/writer")
        #expect(w[.curveRefused] >= 1 && w[.handshakeFailed] >= 1, "\(w.counters)")
        #expect(w[.curveAdmitted] >= 2, "the reader's SUB and snapshot DEALER: \(w.counters)")
        let refusals = try #require(w.refusals)
        #expect(refusals.contains { $0.outcome == "key-refused" && $0.socket == "publish" && $0.key == strangerKeys.publicKey
                                    && $0.address == "127.0.0.1" }, "\(refusals)")
        #expect(refusals.contains { $0.outcome == "handshake-failed" && $0.socket == "publish" }, "\(refusals)")
        #expect(exits[0].stderr.contains(strangerKeys.publicKey), "the writer's log names the refused key")
        let r = try Self.metrics(dir + "/r1")
        #expect(r[.received] > 100 && r[.lost] == 0, "\(r.counters)")
        #expect(r.refusals == [] && r[.refusedByServer] == 0)
        let d = try Self.metrics(dir + "/r2")
        #expect(d[.received] == 0 && d[.heartbeats] == 0, "the direct stranger received \(d.counters)")
        #expect(d[.refusedByServer] >= 2, "its publish connection and its snapshot requests: \(d.counters)")
        let own = try #require(d.refusals)
        #expect(own.contains { $0.outcome == "refused-by-server" && $0.socket == "publish" && $0.address == pub }, "\(own)")
        #expect(exits[2].stderr.contains("refused the direct subscriber's handshake"), "its log says so")
        #expect(Harness.processes(tagged: "curve-hand").isEmpty)
    }

    @Test("a key file others may read, a missing one, a key of the wrong shape: the node refuses to start and says why")
    func badKeyFiles() async throws {
        let dir = Harness.tempDirectory("curve-badkey")
        let keys = try CurveKeyPair.generate()
        try Self.writeKey(keys, name: "w", to: dir + "/w.key_secret")
        try "writer \(keys.publicKey)\n".write(toFile: dir + "/peers", atomically: true, encoding: .utf8)
        try "curve\n    secret-key = \"short\"\n".write(toFile: dir + "/bad.key_secret", atomically: true, encoding: .utf8)
        chmod(dir + "/bad.key_secret", 0o600)
        let cases: [(prepare: () -> Void, key: String, message: String)] = [
            ({ chmod(dir + "/w.key_secret", 0o644) }, dir + "/w.key_secret", "the key file is open to other users (mode 0644)"),
            ({}, dir + "/missing.key_secret", "cannot read the key file"),
            ({}, dir + "/bad.key_secret", "no secret-key of 40 Z85 characters"),
        ]
        for c in cases {
            c.prepare()
            let r = try await Harness.run(Harness.clusterNode, ["writer", "--pub", "tcp://127.0.0.1:*", "--snapshots", "tcp://127.0.0.1:*",
                                                                "--duration", "1s", "--security", "curve", "--curve-key", c.key,
                                                                "--curve-peers", dir + "/peers"], timeout: 20)
            #expect(r.status != 0 && r.stderr.contains(c.key) && r.stderr.contains(c.message), "exit \(r.status): \(r.stderr)")
        }
    }

    static let topology = """
        { "name": "it-curve", "duration": "4s", "warmup": "500ms", "security": { "mode": "curve" },
          "writer": { "rate": 200 },
          "readers": [ { "role": "cli", "count": 2 }, { "role": "log" },
                       { "role": "query", "load": { "clients": 1, "rate": 50 } },
                       { "role": "relay", "name": "hub" }, { "role": "cli", "name": "far", "via": "hub" } ],
          "slo": { "maxLossFastReaders": 0 } }
        """

    /// What a CURVE run looked like from outside while it ran.
    struct Observed: Sendable {
        var run: Harness.Result
        var runDirectory: String
        var keyDirectory = ""
        var keyDirectoryMode: mode_t = 0
        var keyFileModes: [String: mode_t] = [:]
        var secrets: [String] = []
        var argv: [String] = []
        var stranger: Harness.Result?
        var strangerKey = ""
        var plainControlAnswers = -1
    }

    @Test("a CURVE run: every node works with its own key; a reader with a key of its own is refused and the report says which; key files are 0600 and no secret is in argv or any output")
    func orchestratedRun() async throws {
        let work = Harness.tempDirectory("curve-run")
        let strangerKeys = try CurveKeyPair.generate()
        try Self.writeKey(strangerKeys, name: "cli-1", to: work + "/stranger.key_secret")
        let o = try await offPool { () throws -> Observed in
            let run = try Harness.startTopology(Self.topology, tag: "curve-run")
            let pid = run.process.processIdentifier
            var seen = Observed(run: Harness.Result(status: -1, stdout: "", stderr: "", pid: pid), runDirectory: "")
            let deadline = Date().addingTimeInterval(40)
            while Date() < deadline {
                if let d = (try? FileManager.default.contentsOfDirectory(atPath: run.runs))?.first,
                   let events = try? String(contentsOfFile: run.runs + "/\(d)/events.jsonl", encoding: .utf8),
                   events.contains("\"event\":\"all-ready\"") {
                    seen.runDirectory = run.runs + "/" + d
                    break
                }
                usleep(50_000)
            }
            guard !seen.runDirectory.isEmpty else {
                seen.run = Harness.wait(run.process, run.out, run.err, timeout: 60)
                return seen
            }
            // The keys, in the private directory of this orchestrator.
            let tmp = NSTemporaryDirectory()
            if let priv = (try? FileManager.default.contentsOfDirectory(atPath: tmp))?.first(where: { $0.hasPrefix("clustersim-run-\(pid)-") }) {
                seen.keyDirectory = tmp + priv + "/curve"
                seen.keyDirectoryMode = Self.mode(seen.keyDirectory)
                for f in (try? FileManager.default.contentsOfDirectory(atPath: seen.keyDirectory)) ?? [] {
                    let path = seen.keyDirectory + "/" + f
                    seen.keyFileModes[f] = Self.mode(path)
                    if let text = try? String(contentsOfFile: path, encoding: .utf8), let s = CurveKeyFile.parse(text).secretKey {
                        seen.secrets.append(s)
                    }
                }
            }
            for p in Harness.processes(tagged: "curve-run") {
                if let c = FileManager.default.contents(atPath: "/proc/\(p)/cmdline") {
                    seen.argv.append(String(decoding: c.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
                }
            }
            // A stranger: a reader claiming cli-1's name with a key pair of its own and the
            // run's public keys; and a plain DEALER on the control plane.
            let endpoints = try JSONDecoder().decode(RunEndpoints.self, from: Data(contentsOf: URL(fileURLWithPath: seen.runDirectory + "/endpoints.json")))
            seen.strangerKey = strangerKeys.publicKey
            let stranger = try Harness.start(Harness.clusterNode, [
                "reader", "--name", "cli-1", "--pub", endpoints.writer.pub, "--snapshots", endpoints.writer.snapshots,
                "--control", endpoints.control, "--duration", "2s", "--metrics-dir", work + "/stranger",
                "--security", "curve", "--curve-key", work + "/stranger.key_secret", "--curve-peers", seen.keyDirectory + "/peers"])
            let context = try Context()
            let plain = try context.socket(.dealer)
            try plain.setLinger(.zero)
            try plain.connect(endpoints.control)
            try plain.send("not a control message")
            seen.plainControlAnswers = try Self.count(plain, seconds: 1)
            seen.stranger = Harness.wait(stranger.0, stranger.1, stranger.2, timeout: 20)
            seen.run = Harness.wait(run.process, run.out, run.err, timeout: 60)
            return seen
        }
        try #require(!o.runDirectory.isEmpty, "the run never got ready: \(o.run.stderr)")
        #expect(o.run.status == 0, "exit \(o.run.status): \(o.run.stderr.suffix(2000))")
        let rep = try RunReport.load(path: o.runDirectory + "/report.json")

        // Every node of the run, with its own key, did its work.
        for n in rep.nodes {
            #expect(n.status == .completed, "\(n.name): \(n.status)")
            if n.role.isReader && n.role != .reader(.relay) {
                #expect(n.received > 0 && n.lost == 0, "\(n.name): received \(n.received), lost \(n.lost)")
            }
        }
        #expect(rep.totals.queryServed > 0)

        // The stranger got nothing, and the report says which key was refused, where.
        let security = try #require(rep.security)
        #expect(security.mode == "curve" && security.admitted > 0)
        let refused = security.refusals.filter { $0.key == o.strangerKey }
        #expect(refused.contains { $0.node == "orchestrator" && $0.socket == "control" && $0.outcome == "key-refused" }, "\(security.refusals)")
        #expect(refused.contains { $0.node == "writer" && $0.socket == "publish" && $0.address == "127.0.0.1" }, "\(security.refusals)")
        #expect(refused.contains { $0.node == "writer" && $0.socket == "snapshots" }, "\(security.refusals)")
        #expect(security.refusals.contains { $0.node == "orchestrator" && $0.outcome == "handshake-failed" }, "the plain DEALER: \(security.refusals)")
        #expect(o.plainControlAnswers == 0)
        let events = try String(contentsOfFile: o.runDirectory + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("curve-refused") && events.contains(o.strangerKey.replacingOccurrences(of: "/", with: "\\/")))
        let summary = try String(contentsOfFile: o.runDirectory + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("security: curve") && summary.contains(o.strangerKey), "\(summary)")
        let stranger = try #require(o.stranger)
        #expect(stranger.status == 0, "stranger: \(stranger.stderr)")
        let s = try Self.metrics(work + "/stranger")
        #expect(s[.received] == 0 && s[.heartbeats] == 0, "the stranger received \(s.counters)")
        #expect(s[.refusedByServer] >= 2, "its own side of it: \(s.counters)")
        #expect(stranger.stderr.contains("refused-by-server"), "its log says it was refused")

        // The keys: a private directory, files only their owner may read, gone with the run.
        #expect(o.keyDirectoryMode == 0o700, "key directory mode 0\(String(o.keyDirectoryMode, radix: 8))")
        #expect(o.keyFileModes.count == rep.nodes.count + 1 && o.keyFileModes.values.allSatisfy { $0 == 0o600 }, "\(o.keyFileModes)")
        #expect(o.secrets.count == rep.nodes.count, "one secret certificate per node")
        #expect(!FileManager.default.fileExists(atPath: o.keyDirectory), "the keys outlived the run")

        // No secret anywhere: the nodes' command lines, the orchestrator's output, every file of the run directory.
        #expect(o.argv.count >= rep.nodes.count && o.argv.contains { $0.contains("--curve-key") }, "\(o.argv)")
        var outputs = o.argv + [o.run.stdout, o.run.stderr, stranger.stderr]
        let files = FileManager.default.enumerator(atPath: o.runDirectory)?.compactMap { $0 as? String } ?? []
        #expect(files.contains("report.json") && files.contains("events.jsonl") && files.contains { $0.hasSuffix("node.log") })
        for f in files {
            if let data = FileManager.default.contents(atPath: o.runDirectory + "/" + f) { outputs.append(String(decoding: data, as: UTF8.self)) }
        }
        for secret in o.secrets {
            let escaped = secret.replacingOccurrences(of: "/", with: "\\/")
            #expect(!outputs.contains { $0.contains(secret) || $0.contains(escaped) }, "a secret key was found in the run's output")
        }
        #expect(Harness.processes(tagged: "curve-run").isEmpty, "processes left behind")
    }

    @Test("under the netns launcher the nodes' keys work across namespaces, relay included",
          .enabled(if: NetnsTests.isRoot, "needs root: the netns launcher creates network namespaces, veth pairs, a bridge and iptables rules"))
    func netns() async throws {
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-curve-netns", "duration": "3s", "launcher": "netns", "security": { "mode": "curve" },
              "writer": { "rate": 200 },
              "readers": [ { "role": "cli", "count": 2 }, { "role": "query", "load": { "clients": 1, "rate": 20 } },
                           { "role": "relay", "name": "hub" }, { "role": "cli", "name": "far", "via": "hub" } ],
              "slo": { "maxLossFastReaders": 0 } }
            """, tag: "curve-netns", timeout: 60)
        defer { NetnsTests.cleanUp(owner: r.pid) }
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try RunReport.load(path: try #require(dir) + "/report.json")
        #expect(rep.launcher == "netns")
        for n in rep.nodes {
            #expect(n.status == .completed, "\(n.name): \(n.status)")
            if n.role == .reader(.cli) || n.role == .reader(.query) { #expect(n.received > 0 && n.lost == 0, "\(n.name)") }
        }
        let security = try #require(rep.security)
        #expect(security.admitted > 0 && security.total == 0, "\(security)")
        #expect(Harness.processes(tagged: "curve-netns").isEmpty)
    }
}
