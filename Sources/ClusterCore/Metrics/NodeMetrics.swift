import Foundation
import Prometheus

/// Why a reader asked the writer's snapshot service for the current snapshot.
public enum SnapshotTrigger: String, Sendable, Hashable, CaseIterable, Codable {
    /// It had just started (a late joiner, or a restart): the Clone pattern's first fetch.
    case start
    /// `resync`: a gap in the versions.
    case gap
    /// `snail`: it fell past its lag limit, reconnected and skips what it missed.
    case snail
    /// A heartbeat or update of a new writer epoch (the writer restarted).
    case epochChange = "epoch-change"
}

/// How long a node took to hold the writer's current version after an event.
public struct ConvergeEvent: Sendable, Hashable, Codable {
    public var trigger: SnapshotTrigger
    /// Wall-clock ns of the trigger.
    public var atWallNs: UInt64
    /// How long until converged, in milliseconds.
    public var millis: Double
    /// The version held once converged.
    public var version: UInt64

    public init(trigger: SnapshotTrigger, atWallNs: UInt64, millis: Double, version: UInt64) {
        self.trigger = trigger
        self.atWallNs = atWallNs
        self.millis = millis
        self.version = version
    }
}

/// Everything a node measured: the content of `metrics.json`.
public struct NodeMetrics: Sendable, Hashable, Codable {
    public var node: String
    public var role: NodeRole
    public var pid: Int32
    public var host: String
    public var incarnation: UInt64
    public var epoch: UInt64
    public var startedWallNs: UInt64
    public var stoppedWallNs: UInt64
    /// Counters by name (see docs/metrics.md).
    public var counters: [String: UInt64]
    /// Gauges and rates by name.
    public var gauges: [String: Double]
    /// The node's main latency: fan-out latency for readers, send-call latency for the writer.
    public var latency: LatencySummary
    /// Other latencies by name (e.g. `query_service`, `query_client`).
    public var latencies: [String: LatencySummary]
    /// Per-second series of the main latency.
    public var series: [SeriesPoint]
    public var converge: [ConvergeEvent]
    public var process: ProcessStats?
    public var notes: [String]
    /// The connections its CURVE sockets did not let through; nil when its sockets are plain.
    public var refusals: [ConnectionRefusal]?

    /// The count of `counter`, 0 when the node does not count it.
    public subscript(_ counter: Counter) -> UInt64 { counters[counter] }

    public init(node: String, role: NodeRole, pid: Int32 = getpid(), host: String = HostInfo.current().hostname,
                incarnation: UInt64, epoch: UInt64 = 0, startedWallNs: UInt64, stoppedWallNs: UInt64 = 0,
                counters: [String: UInt64] = [:], gauges: [String: Double] = [:], latency: LatencySummary = .empty,
                latencies: [String: LatencySummary] = [:], series: [SeriesPoint] = [], converge: [ConvergeEvent] = [],
                process: ProcessStats? = nil, notes: [String] = []) {
        self.node = node
        self.role = role
        self.pid = pid
        self.host = host
        self.incarnation = incarnation
        self.epoch = epoch
        self.startedWallNs = startedWallNs
        self.stoppedWallNs = stoppedWallNs
        self.counters = counters
        self.gauges = gauges
        self.latency = latency
        self.latencies = latencies
        self.series = series
        self.converge = converge
        self.process = process
        self.notes = notes
    }

    /// `metrics.json`: pretty, keys sorted. A non-finite number (a gauge
    /// that divided by zero) is written as the string "+Inf", "-Inf" or
    /// "NaN" rather than making the whole document fail to encode.
    public func jsonText() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        guard let data = try? enc.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func decode(json: String) throws -> NodeMetrics {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return try dec.decode(NodeMetrics.self, from: Data(json.utf8))
    }

    /// `metrics.prom`: the Prometheus text exposition, produced by swift-prometheus.
    public func prometheusText() -> String {
        let registry = PrometheusCollectorRegistry()
        let labels = [("node", node), ("role", role.name)]
        // Every metric is `clustersim_<name>`; `name` carries its unit suffix itself.
        func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "clustersim", metricName: name, unitName: "", helpText: help)
        }
        func gauge(_ name: String, _ help: String, _ value: Double, extra: [(String, String)] = []) {
            registry.makeGauge(descriptor: descriptor(name, help), labels: labels + extra).set(value)
        }
        for (name, value) in counters.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(descriptor: descriptor("\(Self.metricName(name))_total", "ClusterSim counter \(name)"), labels: labels)
                .increment(by: Int64(clamping: value))
        }
        for (name, value) in gauges.sorted(by: { $0.key < $1.key }) where value.isFinite {
            gauge(Self.metricName(name), "ClusterSim gauge \(name)", value)
        }
        var all = latencies
        all["main"] = latency
        for (name, s) in all.sorted(by: { $0.key < $1.key }) where s.count > 0 {
            let metric = "\(Self.metricName(name == "main" ? (role == .writer ? "send_call" : "fanout") : name))_latency_seconds"
            for (q, v) in [("0.5", s.p50Us), ("0.9", s.p90Us), ("0.99", s.p99Us), ("0.999", s.p999Us), ("1", s.maxUs)] {
                gauge(metric, "Latency quantiles in seconds", v / 1_000_000, extra: [("quantile", q)])
            }
            gauge(metric + "_count", "Latency samples", Double(s.count))
        }
        if let p = process {
            gauge("process_cpu_seconds", "CPU seconds", p.cpuSeconds)
            gauge("process_rss_bytes", "Resident set size", Double(p.rssBytes))
            gauge("process_uss_bytes", "Unique set size", Double(p.ussBytes))
            gauge("process_pss_bytes", "Proportional set size", Double(p.pssBytes))
        }
        return registry.emitToString()
    }

    static func metricName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// Writes a node's three dump files into a directory.
public enum MetricsDump {
    public static let jsonFile = "metrics.json"
    public static let promFile = "metrics.prom"
    public static let hgrmFile = "latency.hgrm"

    /// Writes metrics.json, metrics.prom and latency.hgrm into `directory` (created if needed).
    /// - Throws: the file system's error, naming the path.
    public static func write(json: String, prom: String, hgrm: String, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in [(jsonFile, json), (promFile, prom), (hgrmFile, hgrm)] {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw DumpError(path: path, underlying: "\(error)")
            }
        }
    }

    /// Writes a node's own metrics and latency histogram as the three dump files.
    public static func write(_ metrics: NodeMetrics, histogram: LatencyHistogram, to directory: String) throws {
        try write(json: metrics.jsonText(), prom: metrics.prometheusText(), hgrm: histogram.hgrmText(), to: directory)
    }

    public struct DumpError: Error, CustomStringConvertible {
        public let path: String
        public let underlying: String
        public var description: String { "cannot write \(path): \(underlying)" }
    }
}
