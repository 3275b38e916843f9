import ArgumentParser
import ClusterCore
import Testing

@testable import cluster_node

/// Every node configuration renders a command line that `cluster-node`'s own
/// parser reads back as the same configuration: the orchestrator's launchers
/// and `orchestrator compose` (which render) and the nodes (which parse) agree
/// on every flag.
@Suite("cluster-node command lines")
struct RoundTripTests {
    /// Parses `arguments` (a rendered command line, subcommand first) with cluster-node's command tree.
    func parse(_ arguments: [String]) throws -> any ParsableCommand {
        try ClusterNodeCommand.parseAsRoot(arguments)
    }

    static let curve = CurveFiles(keyFile: "/tmp/k/node.key_secret", peersFile: "/tmp/k/peers")

    static let writers: [WriterConfig] = {
        var full = WriterConfig(publishEndpoint: "tcp://127.0.0.1:5555", snapshotEndpoint: "ipc:///tmp/w.snap")
        full.name = "w-1"
        full.controlEndpoint = "tcp://127.0.0.1:5600"
        full.rate = 1234.5
        full.payloadBytes = 77
        full.seed = 99
        full.scriptPath = "/tmp/events.json"
        full.stateDirectory = "/tmp/state"
        full.sendHighWaterMark = 500
        full.ioThreads = 3
        full.sendBufferBytes = 65_536
        full.noDrop = true
        full.coalesce = true
        full.heartbeatNanos = 250_000_000
        full.historyLimit = 0
        full.durationNanos = 1_500_000_000
        full.metricsDirectory = "/tmp/m"
        full.parentPID = 4242
        full.curve = Self.curve
        full.nice = -5
        full.scheduling = .batch
        var batching = WriterConfig(publishEndpoint: "tcp://*:5555", snapshotEndpoint: "tcp://*:5556")
        batching.batch = WriterBatching(maxCount: 32, maxDelayNanos: 1_500_000)
        var batchingNoDelay = batching
        batchingNoDelay.batch = WriterBatching(maxCount: 4096)
        // The writer's own publisher.
        var direct = batching
        direct.publisher = .direct
        return [WriterConfig(publishEndpoint: "tcp://*:5555", snapshotEndpoint: "tcp://*:5556"), full, batching, batchingNoDelay, direct]
    }()

    @Test("writer", arguments: writers)
    func writer(_ config: WriterConfig) throws {
        // Scripts must exist to pass validation; parse without it, then compare the rest.
        var checked = config
        checked.scriptPath = nil
        let command = try #require(try parse(checked.arguments) as? Writer)
        #expect(command.config() == checked, "\(checked.arguments)")
        #expect(config.arguments.first == "writer")
    }

    static let readers: [ReaderConfig] = {
        let plain = ReaderConfig(name: "cli-1", publishEndpoint: "tcp://127.0.0.1:5555", snapshotEndpoint: "tcp://127.0.0.1:5556")
        var log = plain
        log.name = "log-2"
        log.role = .log
        log.logPath = "/tmp/log-2/snapshots.jsonl"
        log.logFlushEvery = 64
        log.policy = .resync
        log.processingDelay = .uniform(minNanos: 1_000_000, maxNanos: 3_000_000)
        var query = plain
        query.name = "q-1"
        query.role = .query
        query.serviceEndpoint = "tcp://127.0.0.1:5700"
        query.workers = 2
        query.historySize = 32
        query.serviceDelayNanos = 1_000_000
        var full = plain
        full.policy = .snail
        full.receiveHighWaterMark = 1_000
        full.receiveBufferBytes = 65_536
        full.processingDelay = .exponential(meanNanos: 2_000_000)
        full.lagLimitNanos = 250_000_000
        full.seed = 7
        full.drainNanos = 500_000_000
        full.clock = .wall
        full.clockOffsetNanos = -1_234
        full.durationNanos = 3_000_000_000
        full.cpu = 0
        full.maxMessageBytes = 200_000
        full.metricsDirectory = "/tmp/m"
        full.controlEndpoint = "tcp://127.0.0.1:5600"
        full.parentPID = 1
        full.curve = Self.curve
        full.pubNode = "hub-2"
        full.nice = 10
        full.scheduling = .batch
        var claiming = log
        claiming.name = ""
        claiming.claimGroup = "log"
        claiming.claimTimeoutNanos = 30_000_000_000
        claiming.controlEndpoint = "tcp://orchestrator:5600"
        claiming.logPath = "/runs/nodes/\(ReaderConfig.namePlaceholder)/snapshots.jsonl"
        // A replica under CURVE: its group's key pair.
        var claimingSecured = claiming
        claimingSecured.curve = CurveFiles(keyFile: "/run/secrets/log.key_secret", peersFile: "/run/secrets/peers")
        // A log reader that reads ZMTP itself.
        var direct = log
        direct.subscriber = .direct
        return [plain, log, query, full, claiming, claimingSecured, direct]
    }()

    @Test("reader", arguments: readers)
    func reader(_ config: ReaderConfig) throws {
        let command = try #require(try parse(config.arguments) as? Reader)
        #expect(command.config() == config, "\(config.arguments)")
    }

    static let relays: [RelayConfig] = {
        var full = RelayConfig(name: "hub-1", upstream: "tcp://127.0.0.1:5555", bindEndpoint: "tcp://127.0.0.1:*")
        full.delayNanos = 5_000_000
        full.jitterNanos = 1_000
        full.loss = 0.25
        full.seed = 3
        full.durationNanos = 60_000_000_000
        full.maxMessageBytes = 100_000
        full.highWaterMark = 255
        full.metricsDirectory = "/tmp/r"
        full.controlEndpoint = "tcp://127.0.0.1:5600"
        full.parentPID = 9
        full.curve = Self.curve
        full.upstreamNode = "hub-0"
        full.nice = 19
        full.scheduling = .batch
        return [RelayConfig(name: "hub", upstream: "tcp://w:5555", bindEndpoint: "tcp://*:5560"), full]
    }()

    @Test("relay", arguments: relays)
    func relay(_ config: RelayConfig) throws {
        let command = try #require(try parse(config.arguments) as? Relay)
        #expect(command.config() == config, "\(config.arguments)")
    }

    static let loads: [QueryLoadConfig] = {
        var full = QueryLoadConfig(name: "q-load", targets: ["tcp://127.0.0.1:5700", "tcp://127.0.0.1:5701"])
        full.clients = 9
        full.rate = 250.5
        full.timeoutNanos = 2_500_000_000
        full.seed = 11
        full.mix = RequestMix(getLatest: 1, getVersion: 0, health: 2.5, metrics: 0)
        full.durationNanos = 10_000_000_000
        full.maxMessageBytes = 9_000_000
        full.metricsDirectory = "/tmp/q"
        full.controlEndpoint = "tcp://127.0.0.1:5600"
        full.parentPID = 12
        full.curve = Self.curve
        full.targetNodes = ["q-1", "q-2"]
        full.nice = 0
        return [QueryLoadConfig(name: "query-load", targets: ["tcp://q:5700"]), full]
    }()

    @Test("query load generator", arguments: loads)
    func queryLoad(_ config: QueryLoadConfig) throws {
        let command = try #require(try parse(config.arguments) as? QueryLoadCommand)
        #expect(command.config() == config, "\(config.arguments)")
    }

    @Test("cpu hog")
    func cpuHog() throws {
        var config = CPUHogConfig(forNanos: 1_500_000_000, threads: 3, cpus: [0])
        config.parentPID = 77
        let command = try #require(try parse(config.arguments) as? CPUHog)
        #expect(command.config() == config, "\(config.arguments)")
    }

    @Test("CURVE options that do not go together are refused with what to give",
          arguments: [
            (["reader", "--name", "r", "--pub", "tcp://a:1", "--snapshots", "tcp://a:2", "--security", "curve"], "--security curve needs --curve-key FILE"),
            (["writer", "--pub", "tcp://*:1", "--snapshots", "tcp://*:2", "--curve-key", "k"], "--curve-key and --curve-peers need --security curve"),
            (["query-load", "--target", "tcp://q:1", "--target", "tcp://q:2", "--target-node", "q-1", "--security", "curve",
              "--curve-key", "k", "--curve-peers", "p"], "needs a --target-node for each --target (2), found 1"),
            (["relay", "--name", "h", "--upstream", "tcp://a:1", "--bind", "tcp://*:3", "--security", "tls"], "tls"),
            (["reader", "--name", "r", "--pub", "tcp://a:1", "--snapshots", "tcp://a:2", "--subscriber", "direct", "--policy", "conflate"],
             "--policy conflate needs --subscriber libzmq"),
            (["writer", "--pub", "tcp://*:1", "--snapshots", "tcp://*:2", "--publisher", "direct", "--security", "curve",
              "--curve-key", "k", "--curve-peers", "p"], "--security curve needs --publisher libzmq"),
            (["writer", "--pub", "tcp://*:1", "--snapshots", "tcp://*:2", "--publisher", "direct", "--nodrop"], "--nodrop needs --publisher libzmq"),
          ])
    func curveOptionsRefused(_ arguments: [String], _ message: String) {
        do {
            _ = try parse(arguments)
            Issue.record("accepted \(arguments)")
        } catch {
            let text = ClusterNodeCommand.fullMessage(for: error)
            #expect(text.contains(message), "\(text)")
        }
    }

    @Test("the orchestrator's control endpoint and pid reach every kind of node")
    func attached() throws {
        let commands: [NodeCommand] = [.writer(Self.writers[0]), .reader(Self.readers[0]), .relay(Self.relays[0]),
                                       .queryLoad(Self.loads[0]), .cpuHog(CPUHogConfig(forNanos: 1_000_000_000))]
        for c in commands {
            let args = c.attached(control: "tcp://127.0.0.1:5999", parentPID: 31337).arguments
            #expect(args.contains("--parent-pid") && args.contains("31337"), "\(args)")
            if case .cpuHog = c { continue }
            #expect(args.contains("--control") && args.contains("tcp://127.0.0.1:5999"), "\(args)")
        }
    }
}
