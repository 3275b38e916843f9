import ClusterCore
import Foundation
import Histogram

/// Builds `report.json` from a run directory: `topology.json`,
/// `run-state.json` and each node's `metrics.json` and `histogram.json`.
///
/// The orchestrator calls it at the end of a run, and `orchestrator report
/// RUN_DIR` calls it again later: one code path, so a re-rendered report
/// says exactly what the first one said.
public enum ReportBuilder {
    /// Why a run directory's report could not be built.
    public struct BuildError: CodedError, Hashable {
        public typealias Code = ErrorCode<BuildError>
        public let code: Code
        /// The file and what was wrong with it.
        public let message: String

        public init(_ code: Code, _ message: String) {
            (self.code, self.message) = (code, message)
        }
    }

    public static let histogramFile = "histogram.json"

    /// Reads a run directory and builds its report.
    /// - Throws: `BuildError` naming the missing or unreadable file.
    public static func build(runDirectory dir: String) throws -> RunReport {
        let topologyPath = (dir as NSString).appendingPathComponent("topology.json")
        let topology: Topology
        do { topology = try TopologyLoader.load(path: topologyPath) } catch {
            throw BuildError(.topology, "\(topologyPath): \(error)")
        }
        let statePath = (dir as NSString).appendingPathComponent(RunState.fileName)
        guard let stateData = FileManager.default.contents(atPath: statePath) else {
            throw BuildError(.missingRunState, "\(statePath): missing (not a run directory?)")
        }
        let state: RunState
        do { state = try JSONDecoder().decode(RunState.self, from: stateData) } catch {
            throw BuildError(.runState, "\(statePath): \(error)")
        }
        var metrics: [String: NodeMetrics] = [:]
        var histograms: [String: LatencyHistogram] = [:]
        for node in state.nodes {
            let nodeDir = (dir as NSString).appendingPathComponent("nodes/\(node.name)")
            if let text = try? String(contentsOfFile: (nodeDir as NSString).appendingPathComponent(MetricsDump.jsonFile), encoding: .utf8),
               let m = try? NodeMetrics.decode(json: text) {
                metrics[node.name] = m
            }
            if let data = FileManager.default.contents(atPath: (nodeDir as NSString).appendingPathComponent(histogramFile)),
               let h = LatencyHistogram.decodeLatency(data) {
                histograms[node.name] = h
            }
        }
        return build(topology: topology, state: state, metrics: metrics, histograms: histograms, runDirectory: dir)
    }

    /// A fast reader: a log, query or cli reader with no processing delay, no
    /// fault aimed at it, and no lossy relay upstream. Loss SLOs apply to these,
    /// and the latency figures are merged over them.
    static func isFastReader(_ spec: NodeSpec?, role: NodeRole, faulted: Bool, in topology: Topology) -> Bool {
        role.isReader && spec?.reader?.processingDelay == nil && !faulted && !behindImpairedRelay(spec, in: topology)
    }

    /// Whether a node subscribes through a relay that drops or delays on purpose.
    static func behindImpairedRelay(_ spec: NodeSpec?, in topology: Topology) -> Bool {
        var group = spec?.reader?.via
        var seen: Set<String> = []
        while let g = group, seen.insert(g).inserted {
            guard let relay = topology.readers.first(where: { $0.groupName == g }) else { return false }
            if let r = relay.relay, r.loss > 0 { return true }
            group = relay.via
        }
        return false
    }

    /// Builds the report from what was read.
    public static func build(topology: Topology, state: RunState, metrics: [String: NodeMetrics],
                             histograms: [String: LatencyHistogram], runDirectory: String) -> RunReport {
        let specByName = Dictionary(uniqueKeysWithValues: topology.nodes.map { ($0.name, $0) })
        var nodes: [NodeReport] = []
        var byRole: [String: LatencyHistogram] = [:]
        var overall = LatencyHistogram.latency()
        for o in state.nodes {
            let m = metrics[o.name]
            let spec = specByName[o.name]
            let fast = isFastReader(spec, role: o.role, faulted: o.faulted, in: topology)
            var status = o.status
            if status == .completed, m == nil, o.role != .cpuHog { status = .noFinalDump }
            nodes.append(NodeReport(
                name: o.name, group: o.group, role: o.role, policy: spec?.reader?.policy.rawValue, fast: fast,
                status: status, exit: o.exit, restarts: o.restarts, pids: o.pids, counters: m?.counters ?? [:],
                gauges: m?.gauges ?? [:], latency: m?.latency ?? .empty, latencies: m?.latencies ?? [:],
                series: m?.series ?? [], converge: m?.converge ?? [], resources: o.resources, clock: o.clock))
            if fast, let h = histograms[o.name] {
                byRole[o.role.name, default: .latency()].add(h)
                overall.add(h)
            }
        }
        let writerMetrics = metrics[Topology.writerName]
        let writerNode = state.nodes.first { $0.role == .writer }
        // Summed over the writer's incarnations (each its own epoch); the last one's own count without them.
        let incarnations = writerNode?.publishedByEpoch
        var writer = RunReport.WriterSummary(
            published: incarnations.map { $0.reduce(0) { $0 &+ $1.published } } ?? writerMetrics?[.published] ?? 0,
            finalVersion: writerMetrics?[.finalVersion] ?? 0,
            epoch: writerMetrics?.epoch ?? 0,
            rateAsked: topology.writer.rate,
            rateAchieved: writerMetrics?.gauges[.rateAchieved] ?? 0,
            illegalEvents: writerMetrics?[.illegalEvents] ?? 0,
            sendCallLatency: writerMetrics?.latency ?? .empty,
            restarts: writerNode?.restarts ?? 0,
            incarnations: incarnations)
        writer.promise = topology.writer.promise.rawValue
        writer.coalesced = writerMetrics?[.coalesced]
        writer.batching = writerMetrics.flatMap { batching($0, topology.writer) }

        let readers = nodes.filter(\.role.isReader)
        let fastReaders = readers.filter(\.fast)
        let queries = nodes.filter { $0.role == .reader(.query) }
        let served = queries.reduce(0) { $0 + $1[.queryServed] }
        let busy = queries.reduce(0) { $0 + $1[.queryBusy] }
        let totals = RunReport.Totals(
            readers: readers.count, fastReaders: fastReaders.count,
            delivered: readers.reduce(0) { $0 + $1.received },
            lost: readers.reduce(0) { $0 + $1.lost },
            lostFastReaders: fastReaders.reduce(0) { $0 + $1.lost },
            skipped: readers.reduce(0) { $0 + $1[.skipped] },
            decodeErrors: nodes.reduce(0) { $0 + $1[.decodeErrors] },
            crashes: nodes.filter { $0.status == .crashed }.count,
            queryServed: served, queryBusy: busy,
            busyRatio: served + busy > 0 ? Double(busy) / Double(served + busy) : 0,
            peakReaderRssMB: readers.compactMap { $0.resources?.peakRssMB }.max() ?? 0,
            maxMemoryGrowthMB: (nodes.compactMap { $0.resources?.growthMB } + [state.environment.orchestratorGrowthMB ?? 0]).max() ?? 0,
            maxConvergeMs: readers.flatMap { $0.converge.filter { $0.trigger != .start || $0.atWallNs >= state.startedWallNs }.map(\.millis) }.max() ?? 0,
            logLinesNotWritten: readers.reduce(0) { $0 + $1[.logLinesDropped] },
            logWriteErrors: readers.reduce(0) { $0 + $1[.logWriteErrors] })

        var curve: [PercentilePoint] = []
        if overall.totalCount > 0 {
            for p in [0.0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100] {
                curve.append(PercentilePoint(percentile: p, us: Double(overall.valueAtPercentile(p)) / 1000))
            }
        }
        var report = RunReport(
            name: topology.name, topologyFile: state.topologyFile, runDirectory: runDirectory,
            startedWallNs: state.startedWallNs, durationSeconds: state.durationSeconds, seed: topology.seed,
            launcher: state.launcher, aborted: state.aborted, environment: state.environment, timings: state.timings,
            writer: writer, nodes: nodes, latencyByRole: byRole.mapValues { LatencySummary($0) },
            latencyOverall: LatencySummary(overall), percentileCurve: curve, totals: totals, faults: state.faults, slo: [])
        report.endpoints = state.endpoints
        report.host = state.host
        report.security = SecurityReport.build(state: state.security, metrics: metrics, order: state.nodes.map(\.name))
        report.controlPlane = state.controlPlane
        report.spikes = SpikeAttribution.spikes(in: report)
        report.hostSaturation = SpikeAttribution.saturation(in: report)
        report.slo = SLOChecker.check(topology.slo, report: report)
        return report
    }
}

extension ReportBuilder {
    /// What the writer's batching did, from its counters and its `batching_delay`; nil when it did not batch.
    /// Its most versions a frame are the topology's, or fewer where its snapshots fill a frame's bytes sooner.
    static func batching(_ m: NodeMetrics, _ writer: WriterSpec) -> BatchingSummary? {
        guard let spec = writer.batch, let stats = BatchStatistics(counters: m.counters) else { return nil }
        var sizes: [BatchSizeBucket] = []
        for (i, bound) in BatchStatistics.bounds.enumerated() where stats.frames[i] > 0 {
            sizes.append(BatchSizeBucket(from: i == 0 ? 1 : BatchStatistics.bounds[i - 1] + 1, upTo: bound, frames: stats.frames[i]))
        }
        return BatchingSummary(
            maxCount: MessageLimits.batchCount(maxCount: spec.maxCount, payloadBytes: writer.payloadBytes, historyLimit: writer.historyLimit),
            maxDelayUs: Double(spec.maxDelay.nanoseconds) / 1000,
            frames: m[.framesSent], versions: m[.published], batchFrames: m[.batchFrames], batchedVersions: m[.batchedVersions],
            sizes: sizes, delay: m.latencies[LatencyName.batchingDelay] ?? .empty)
    }
}

extension ErrorCode<ReportBuilder.BuildError> {
    /// `topology.json` is missing or does not parse.
    public static let topology = Self("topology")
    /// `run-state.json` is missing: not a run directory, or a run that ended before writing it.
    public static let missingRunState = Self("missing-run-state")
    /// `run-state.json` does not decode.
    public static let runState = Self("run-state")
}
