import Foundation
import Testing

@testable import ClusterCore

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Parses `json`, expecting success.
func parseTopology(_ json: String, file: String = "test.json") throws -> Topology {
    try TopologyLoader.parse(Data(json.utf8), file: file)
}

@Suite("TimeSpan")
struct TopologyTimeSpanTests {
    @Test(arguments: [
        ("500us", 500_000 as UInt64, "500us"),
        ("250ms", 250_000_000, "250ms"),
        ("30s", 30_000_000_000, "30s"),
        ("2m", 120_000_000_000, "2m"),
        ("1h", 3_600_000_000_000, "1h"),
        ("1.5s", 1_500_000_000, "1500ms"),
        ("0s", 0, "0s"),
        ("0ms", 0, "0s"),
        ("90s", 90_000_000_000, "90s"),
        ("60s", 60_000_000_000, "1m"),
        ("1000ms", 1_000_000_000, "1s"),
        ("7ns", 7, "7ns"),
        ("0.25ms", 250_000, "250us"),
        ("2.5h", 9_000_000_000_000, "150m"),
    ])
    func parsesAndPrints(text: String, nanoseconds: UInt64, canonical: String) throws {
        let span = try TimeSpan(parsing: text)
        #expect(span.nanoseconds == nanoseconds)
        #expect(span.description == canonical)
        #expect(try TimeSpan(parsing: span.description) == span)
    }

    @Test(arguments: [
        ("10", "no unit"), ("-1s", "negative"), ("", "no unit"), ("1 s", nil), ("abc", nil), ("1.s", nil),
        (".5s", nil), ("5sec", nil), ("1e3ms", nil), ("99999999999h", "too large"), ("1S", nil),
    ] as [(String, String?)])
    func rejects(text: String, reason: String?) {
        #expect {
            try TimeSpan(parsing: text)
        } throws: { error in
            guard let error = error as? TimeSpan.ParseError else { return false }
            let message = error.description
            return error.reason == reason
                && message.contains("is not a duration")
                && message.contains(#"ns, us, ms, s, m, h (e.g. "500us", "250ms", "1.5s", "2m")"#)
        }
    }

    @Test func conversions() {
        let span = TimeSpan.milliseconds(1500)
        #expect(span == .seconds(1.5))
        #expect(span.seconds == 1.5)
        #expect(span.milliseconds == 1500)
        #expect(span.duration == .milliseconds(1500))
        #expect(TimeSpan.seconds(-3) == .zero)
        #expect(TimeSpan.milliseconds(2) < .seconds(1))
    }

    @Test func codableAsString() throws {
        let data = try JSONEncoder().encode([TimeSpan.milliseconds(250)])
        #expect(String(decoding: data, as: UTF8.self) == #"["250ms"]"#)
        #expect(try JSONDecoder().decode([TimeSpan].self, from: Data(#"["2m"]"#.utf8)) == [.seconds(120)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([TimeSpan].self, from: Data(#"["2 m"]"#.utf8)) }
    }
}

@Suite("Topology files")
struct TopologyFileTests {
    static let readyFiles: [String] = {
        let dir = repositoryRoot.appendingPathComponent("topologies")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func allReadyFilesArePresent() {
        let expected = [
            "1-reader.json", "10-readers.json", "100-readers.json", "chaos.json", "late-joiner.json",
            "query-load.json", "slow-subscriber.json", "smoke.json", "soak.json", "tree.json",
            "overload.json", "overload-unbatched.json",
        ]
        #expect(Set(expected).isSubset(of: Set(Self.readyFiles)))
    }

    @Test(arguments: readyFiles)
    func readyFileValidatesAndRoundTrips(name: String) throws {
        let path = repositoryRoot.appendingPathComponent("topologies/\(name)").path
        let topology = try TopologyLoader.load(path: path)
        #expect(topology.name + ".json" == name)
        #expect(topology.validate().isEmpty)
        let encoded = try TopologyLoader.encode(topology)
        #expect(try TopologyLoader.parse(encoded, file: "encoded-\(name)") == topology)
        #expect(try JSONDecoder().decode(Topology.self, from: encoded) == topology)
    }

    @Test func mainJob() throws {
        let topology = try TopologyLoader.load(path: repositoryRoot.appendingPathComponent("topologies/100-readers.json").path)
        #expect(topology.nodes.count == 101)
        #expect(topology.writer.rate == 1000)
        #expect(topology.writer.payloadBytes == 512)
        #expect(topology.duration == .seconds(20))
        #expect(topology.cpuPinning == .off)
        #expect(topology.node(named: "slow")?.reader?.processingDelay == .fixed(.milliseconds(2)))
        #expect(topology.node(named: "slow")?.reader?.policy == .resync)
        #expect(topology.faults.map(\.target) == ["cli-3", "cli-3", "log-2"])
        #expect(topology.slo.p99LatencyMs == 500 && topology.slo.p50LatencyMs == 10)
        #expect(topology.slo.maxLossFastReaders == 0)
        #expect(topology.slo.maxReaderRssMB == 60)
        let deliveries = topology.writer.rate * Double(topology.nodes.count - 1)
        #expect(deliveries <= 100_000)
    }
}

@Suite("Topology model")
struct TopologyModelTests {
    @Test func defaultsAreFilled() throws {
        let topology = try parseTopology(#"{"name": "d", "writer": {"rate": 10}, "readers": [{"role": "query"}]}"#)
        #expect(topology.schemaVersion == 1)
        #expect(topology.seed == 1)
        #expect(topology.description == nil)
        #expect(topology.duration == .seconds(10))
        #expect(topology.warmup == .zero)
        #expect(topology.readyTimeout == .seconds(20))
        #expect(topology.launcher == .local)
        #expect(topology.registerTimeout == .minutes(2))
        #expect(topology.cpuPinning == .off)
        #expect(topology.faults.isEmpty)
        #expect(topology.chaos == nil)
        #expect(topology.slo == SLOSpec())
        #expect(topology.slo.isEmpty)
        #expect(topology.writer == WriterSpec(rate: 10))
        let w = topology.writer
        #expect(w.payloadBytes == 256 && w.transport == .tcp && w.sndhwm == 1_000 && !w.nodrop)
        #expect(w.heartbeat == .seconds(1) && w.historyLimit == 16 && !w.persist && w.events == nil && !w.coalesce)
        #expect(w.promise == .everyVersion && w.batch == BatchSpec(maxCount: 64, maxDelay: .zero))
        #expect(w.ioThreads == 1 && w.publisher == .libzmq)
        let g = topology.readers[0]
        #expect(g == ReaderGroup(role: .query))
        #expect(g.name == nil && g.count == 1 && g.policy == .drop && g.rcvhwm == 1_000 && g.rcvbuf == nil && g.subscriber == .libzmq)
        #expect(g.lagLimit == .milliseconds(500) && g.startAt == nil && g.via == nil && g.load == nil)
        #expect(g.workers == 4 && g.historySize == 256 && g.logFlushEvery == 256 && g.relay == nil)
    }

    @Test func nestedDefaults() throws {
        let topology = try parseTopology(#"""
        {"name": "n", "writer": {"rate": 10}, "readers": [
          {"role": "query", "load": {"clients": 2, "rate": 5}},
          {"role": "relay", "relay": {}}
        ], "chaos": {"rate": 1, "actions": ["kill"], "targets": ["role:query"]}}
        """#)
        #expect(topology.readers[0].load == QueryLoad(clients: 2, rate: 5, timeout: .seconds(1), mix: nil))
        #expect(topology.readers[1].relay == RelaySpec(delay: .zero, jitter: .zero, loss: 0))
        #expect(topology.chaos?.pauseFor == .seconds(1))
        #expect(topology.chaos?.seed == nil)
    }

    @Test func nodeNaming() throws {
        let topology = try parseTopology(#"""
        {"name": "naming", "writer": {"rate": 10}, "readers": [
          {"role": "log", "count": 2},
          {"role": "cli"},
          {"role": "log", "name": "slow"},
          {"role": "query", "name": "q", "count": 3},
          {"role": "relay", "name": "edge", "count": 1}
        ]}
        """#)
        let nodes = topology.nodes
        #expect(nodes.map(\.name) == ["writer", "log-1", "log-2", "cli-1", "slow", "q-1", "q-2", "q-3", "edge"])
        #expect(nodes.map(\.group) == ["writer", "log", "log", "cli", "slow", "q", "q", "q", "edge"])
        #expect(nodes.map(\.index) == [0, 1, 2, 1, 1, 1, 2, 3, 1])
        #expect(nodes[0].role == .writer && nodes[0].reader == nil && nodes[0].role.name == "writer")
        #expect(nodes[4].role == .reader(.log) && nodes[4].role.name == "log")
        #expect(topology.node(named: "q-2")?.reader?.role == .query)
        #expect(topology.node(named: "q") == nil)
        #expect(topology.group(named: "q")?.count == 3)
        #expect(topology.nodes(matching: "role:log").map(\.name) == ["log-1", "log-2", "slow"])
        #expect(topology.nodes(matching: "q-*").map(\.name) == ["q-1", "q-2", "q-3"])
        #expect(topology.nodes(matching: "*-2").map(\.name) == ["log-2", "q-2"])
        #expect(topology.nodes(matching: "q").count == 3)
        #expect(topology.nodes(matching: "writer").map(\.name) == ["writer"])
        #expect(topology.nodes(matching: "role:writer").map(\.name) == ["writer"])
        #expect(topology.nodes(matching: "nope").isEmpty)
    }

    @Test func delayForms() throws {
        let topology = try parseTopology(#"""
        {"name": "delays", "writer": {"rate": 10}, "readers": [
          {"role": "cli", "name": "a", "processingDelay": "2ms"},
          {"role": "cli", "name": "b", "processingDelay": {"distribution": "uniform", "min": "1ms", "max": "3ms"}},
          {"role": "cli", "name": "c", "processingDelay": {"distribution": "exponential", "mean": "2ms", "max": "20ms"}},
          {"role": "cli", "name": "d", "processingDelay": {"mean": "4ms"}}
        ]}
        """#)
        #expect(topology.readers.map(\.processingDelay) == [
            .fixed(.milliseconds(2)),
            DelaySpec(distribution: .uniform, mean: .milliseconds(2), min: .milliseconds(1), max: .milliseconds(3)),
            .exponential(mean: .milliseconds(2), max: .milliseconds(20)),
            .fixed(.milliseconds(4)),
        ])
        let encoded = try TopologyLoader.encode(topology)
        #expect(try parseTopology(String(decoding: encoded, as: UTF8.self)) == topology)
    }

    @Test func encodingIsResolvedAndSorted() throws {
        let topology = try parseTopology(#"{"name": "e", "writer": {"rate": 10}, "readers": [{"role": "cli"}]}"#)
        let text = String(decoding: try TopologyLoader.encode(topology), as: UTF8.self)
        #expect(text.contains(#""version" : 1"#))
        #expect(text.contains(#""duration" : "10s""#))
        #expect(text.contains(#""payloadBytes" : 256"#))
        #expect(text.contains(#""lagLimit" : "500ms""#))
        #expect(!text.contains("workers"))  // query-only keys are written only for query groups
        #expect(text.range(of: "\"duration\"")!.lowerBound < text.range(of: "\"name\"")!.lowerBound)
        #expect(text.hasSuffix("}\n"))
    }

    @Test func fullRoundTrip() throws {
        let topology = Topology(
            name: "everything", description: "all keys", seed: .max, duration: .seconds(60), warmup: .seconds(2),
            readyTimeout: .seconds(30), launcher: .netns, cpuPinning: .spread,
            writer: WriterSpec(
                rate: 123.5, payloadBytes: 0, transport: .ipc, sndhwm: 0, nodrop: true, heartbeat: .milliseconds(100),
                historyLimit: 0, persist: true, events: [ScriptedEventSpec(at: .seconds(1), event: "boot")], coalesce: true,
                ioThreads: 3, nice: -5, scheduling: .batch),
            readers: [
                ReaderGroup(role: .relay, name: "hub", count: 2, relay: RelaySpec(delay: .milliseconds(5), jitter: .milliseconds(1), loss: 0.01),
                            nice: 5),
                ReaderGroup(
                    role: .query, name: "q", count: 3, policy: .snail, rcvhwm: 10, rcvbuf: 65536, subscriber: .direct,
                    processingDelay: .uniform(min: .milliseconds(1), max: .milliseconds(2)), lagLimit: .seconds(1),
                    startAt: .seconds(5), via: "hub",
                    load: QueryLoad(clients: 8, rate: 99.5, timeout: .milliseconds(250), mix: ["getLatest": 1, "health": 0.5]),
                    workers: 8, historySize: 1024, nice: 10, scheduling: .batch),
                ReaderGroup(role: .log, logFlushEvery: 16),
            ],
            faults: [
                FaultSpec(at: .seconds(1), action: .partition, target: "q", for: .seconds(2)),
                FaultSpec(at: .seconds(2), action: .loss, target: "q-1", for: .seconds(2), loss: 0.2),
                FaultSpec(at: .seconds(3), action: .bandwidth, target: "log-1", for: .seconds(2), bandwidth: "1mbit"),
                FaultSpec(at: .seconds(4), action: .delay, target: "hub", delay: .milliseconds(20)),
                FaultSpec(at: .seconds(5), action: .pause, target: "writer"),
                FaultSpec(at: .seconds(6), action: .resume, target: "writer"),
            ],
            chaos: ChaosSpec(rate: 2, actions: [.kill, .cpuHog], targets: ["role:log", "q-*"], start: .seconds(10), stop: .seconds(50), pauseFor: .seconds(2), seed: 99),
            slo: SLOSpec(
                p50LatencyMs: 1, p99LatencyMs: 5, maxLatencyMs: 100, perRole: [.query: LatencySLO(p50Ms: 1, p99Ms: 2, maxMs: 3)],
                maxLossFastReaders: 0, maxReaderRssMB: 40, maxMemoryGrowthMB: 5, maxBusyRatio: 0.1, maxConvergeMs: 500,
                minDeliveryRatio: 0.99))
        #expect(topology.validate() == [])
        let encoded = try TopologyLoader.encode(topology)
        #expect(try TopologyLoader.parse(encoded, file: "x.json") == topology)
        #expect(try JSONDecoder().decode(Topology.self, from: encoded) == topology)
    }

    @Test func documentationExampleIsValid() throws {
        let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/topology.md"), encoding: .utf8)
        let section = try #require(doc.range(of: "## A full example"))
        let start = try #require(doc.range(of: "```json\n", range: section.upperBound..<doc.endIndex))
        let end = try #require(doc.range(of: "\n```", range: start.upperBound..<doc.endIndex))
        let topology = try parseTopology(String(doc[start.upperBound..<end.lowerBound]), file: "docs/topology.md")
        #expect(topology.nodes.count == 106)
        #expect(topology.node(named: "far-4")?.reader?.via == "hub")
    }

    @Test func documentedTargetMessage() throws {
        var topology = try TopologyLoader.load(path: repositoryRoot.appendingPathComponent("topologies/100-readers.json").path)
        topology.faults[0].target = "cli-300"
        #expect(topology.validate().map(\.description) == [
            #"faults[0].target: found "cli-300", which names no node, expected a node name (writer, log-1 ... log-10, query-1 ... query-10, cli-1 ... cli-79, slow)"#,
        ])
    }

    @Test func overridingRevalidatesFaultTimes() throws {
        let topology = try TopologyLoader.load(path: repositoryRoot.appendingPathComponent("topologies/100-readers.json").path)
        let short = topology.overriding(duration: .seconds(9), seed: 7)
        #expect(short.seed == 7 && short.duration == .seconds(9))
        let issues = short.validate()
        #expect(issues.map(\.path) == ["faults[1].at", "faults[2].at"])
        #expect(issues.first?.message == #"found "10s", expected less than the duration "9s""#)
        #expect(topology.overriding(duration: nil, seed: nil) == topology)
    }

    @Test("writer.publisher direct reads, validates and writes back")
    func directPublisher() throws {
        let topology = try parseTopology(#"{"name": "p", "writer": {"rate": 10, "publisher": "direct"}, "readers": [{"role": "cli"}]}"#)
        #expect(topology.writer.publisher == .direct)
        #expect(topology.validate().isEmpty)
        let again = try JSONDecoder().decode(Topology.self, from: try JSONEncoder().encode(topology))
        #expect(again.writer.publisher == .direct && again == topology)
    }

    @Test func decodableRejectsInvalidInput() throws {
        let json = Data(#"{"rate": 10, "sndHwm": 5}"#.utf8)
        #expect {
            try JSONDecoder().decode(WriterSpec.self, from: json)
        } throws: { error in
            (error as? TopologyError)?.issues.first?.description == #"sndHwm: unknown key (did you mean "sndhwm"?); expected one of rate, payloadBytes, transport, sndhwm, sndbuf, nodrop, heartbeat, historyLimit, persist, events, coalesce, promise, batch, ioThreads, publisher, nice, scheduling"#
        }
    }

    @Test("writer.promise and writer.batch: the promise decides batching or coalescing; batch false, true or an object")
    func promiseAndBatch() throws {
        func writer(_ json: String) throws -> WriterSpec {
            try parseTopology(#"{"name": "p", "writer": \#(json), "readers": [{"role": "cli"}]}"#).writer
        }
        let batching = try writer(#"{"rate": 10, "batch": {"maxCount": 16, "maxDelay": "1ms"}}"#)
        #expect(batching.promise == .everyVersion && batching.batch == BatchSpec(maxCount: 16, maxDelay: .milliseconds(1)))
        #expect(try writer(#"{"rate": 10, "batch": {}}"#).batch == BatchSpec())
        #expect(try writer(#"{"rate": 10, "batch": true}"#).batch == BatchSpec())
        let off = try writer(#"{"rate": 10, "batch": false}"#)
        #expect(off.batch == nil && off.promise == .everyVersion && !off.coalesce)
        for json in [#"{"rate": 10, "promise": "newest-state"}"#, #"{"rate": 10, "coalesce": true}"#,
                     #"{"rate": 10, "coalesce": true, "promise": "newest-state", "batch": false}"#] {
            let newest = try writer(json)
            #expect(newest.promise == .newestState && newest.coalesce && newest.batch == nil, "\(json)")
        }
        // Written back with every key, `batch: false` when off, and read back the same.
        for w in [batching, off, try writer(#"{"rate": 10, "coalesce": true}"#)] {
            let t = Topology(name: "p", writer: w, readers: [ReaderGroup(role: .cli)])
            let encoded = try TopologyLoader.encode(t)
            #expect(try TopologyLoader.parse(encoded, file: "x.json") == t)
        }
        let text = String(decoding: try TopologyLoader.encode(Topology(name: "p", writer: off, readers: [ReaderGroup(role: .cli)])), as: UTF8.self)
        #expect(text.contains(#""batch" : false"#) && text.contains(#""promise" : "every-version""#))
    }

    @Test func validEventNamesAreTheFSMEvents() {
        #expect(ScriptedEventSpec.validEventNames == ["boot", "boot_completed", "activate", "deactivate", "fail", "recover", "retry", "shutdown"])
    }

    @Test func bandwidthRates() {
        #expect(FaultSpec.bitsPerSecond(ofRate: "1mbit") == 1e6)
        #expect(FaultSpec.bitsPerSecond(ofRate: "2.5kbit") == 2500)
        #expect(FaultSpec.bitsPerSecond(ofRate: "100kbps") == 800_000)
        #expect(FaultSpec.bitsPerSecond(ofRate: "1 mbit") == nil)
        #expect(FaultSpec.bitsPerSecond(ofRate: "fast") == nil)
        #expect(FaultSpec.bitsPerSecond(ofRate: "0mbit") == nil)
    }
}
