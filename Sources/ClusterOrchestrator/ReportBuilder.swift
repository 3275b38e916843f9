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
    public struct BuildError: Error, CustomStringConvertible {
        public let description: String
    }

    public static let histogramFile = "histogram.json"

    /// Reads a run directory and builds its report.
    /// - Throws: `BuildError` naming the missing or unreadable file.
    public static func build(runDirectory dir: String) throws -> RunReport {
        let topologyPath = (dir as NSString).appendingPathComponent("topology.json")
        let topology: Topology
        do { topology = try TopologyLoader.load(path: topologyPath) } catch {
            throw BuildError(description: "\(topologyPath): \(error)")
        }
        let statePath = (dir as NSString).appendingPathComponent(RunState.fileName)
        guard let stateData = FileManager.default.contents(atPath: statePath) else {
            throw BuildError(description: "\(statePath): missing (not a run directory?)")
        }
        let state: RunState
        do { state = try JSONDecoder().decode(RunState.self, from: stateData) } catch {
            throw BuildError(description: "\(statePath): \(error)")
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
            let isReader = o.role.isReader
            let fast = isReader && spec?.reader?.processingDelay == nil && !o.faulted && !behindImpairedRelay(spec, in: topology)
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
        let writer = RunReport.WriterSummary(
            published: writerMetrics?[.published] ?? 0,
            finalVersion: writerMetrics?[.finalVersion] ?? 0,
            epoch: writerMetrics?.epoch ?? 0,
            rateAsked: topology.writer.rate,
            rateAchieved: writerMetrics?.gauges[.rateAchieved] ?? 0,
            illegalEvents: writerMetrics?[.illegalEvents] ?? 0,
            sendCallLatency: writerMetrics?.latency ?? .empty,
            restarts: writerNode?.restarts ?? 0)

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
            maxMemoryGrowthMB: nodes.compactMap { $0.resources?.growthMB }.max() ?? 0,
            maxConvergeMs: readers.flatMap { $0.converge.filter { $0.trigger != .start || $0.atWallNs >= state.startedWallNs }.map(\.millis) }.max() ?? 0)

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
        report.slo = SLOChecker.check(topology.slo, report: report)
        return report
    }
}

/// Checks a topology's SLOs against a report.
public enum SLOChecker {
    public static func check(_ slo: SLOSpec, report r: RunReport) -> [SLOResult] {
        var out: [SLOResult] = []
        func atMost(_ name: String, _ limit: Double?, _ measured: Double, _ unit: String, _ detail: String) {
            guard let limit else { return }
            out.append(SLOResult(name: name, limit: limit, measured: measured, unit: unit, pass: measured <= limit, detail: detail))
        }
        let fast = "over \(r.totals.fastReaders) fast readers"
        atMost("p50 latency", slo.p50LatencyMs, r.latencyOverall.p50Us / 1000, "ms", fast)
        atMost("p99 latency", slo.p99LatencyMs, r.latencyOverall.p99Us / 1000, "ms", fast)
        atMost("max latency", slo.maxLatencyMs, r.latencyOverall.maxUs / 1000, "ms", fast)
        for (role, l) in (slo.perRole ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let s = r.latencyByRole[role.rawValue] ?? .empty
            atMost("\(role.rawValue) p50 latency", l.p50Ms, s.p50Us / 1000, "ms", "fast \(role.rawValue) readers")
            atMost("\(role.rawValue) p99 latency", l.p99Ms, s.p99Us / 1000, "ms", "fast \(role.rawValue) readers")
            atMost("\(role.rawValue) max latency", l.maxMs, s.maxUs / 1000, "ms", "fast \(role.rawValue) readers")
        }
        if let limit = slo.maxLossFastReaders {
            atMost("loss, fast readers", Double(limit), Double(r.totals.lostFastReaders), "messages", fast)
        }
        atMost("peak reader RSS", slo.maxReaderRssMB, r.totals.peakReaderRssMB, "MB", "largest reader")
        atMost("memory growth", slo.maxMemoryGrowthMB, r.totals.maxMemoryGrowthMB, "MB", "largest growth of any node")
        atMost("query BUSY ratio", slo.maxBusyRatio, r.totals.busyRatio, "", "\(r.totals.queryBusy) busy of \(r.totals.queryServed + r.totals.queryBusy)")
        atMost("time to converge", slo.maxConvergeMs, r.totals.maxConvergeMs, "ms", "slowest recovery after a fault, gap or late join")
        if let minRatio = slo.minDeliveryRatio {
            let fastNodes = r.nodes.filter(\.fast)
            let expected = Double(r.writer.published) * Double(fastNodes.count)
            let got = Double(fastNodes.reduce(0) { $0 + $1.received })
            let ratio = expected > 0 ? got / expected : 0
            out.append(SLOResult(name: "delivery ratio", limit: minRatio, measured: ratio, unit: "", pass: ratio >= minRatio,
                                 detail: "received / published, fast readers"))
        }
        if r.aborted != nil {
            out.append(SLOResult(name: "run completed", limit: 1, measured: 0, unit: "", pass: false, detail: r.aborted ?? ""))
        }
        return out
    }
}
