import ClusterCore

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
        atMost("memory growth", slo.maxMemoryGrowthMB, r.totals.maxMemoryGrowthMB, "MB", "largest growth of any node or the orchestrator")
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
        // What a run must never hide, whatever the topology asks: a node that
        // crashed, and a log that does not hold what its reader received.
        let crashed = r.nodes.filter { $0.status == .crashed }.map(\.name)
        if !crashed.isEmpty {
            out.append(SLOResult(name: "crashed nodes", limit: 0, measured: Double(crashed.count), unit: "nodes", pass: false,
                                 detail: crashed.prefix(5).joined(separator: ", ") + (crashed.count > 5 ? ", …" : "")))
        }
        // A node no fault aimed at that ended without its final dump measured nothing the
        // report can show (killed at teardown, say): the run did not do what it set out to.
        let targets = Set(r.faults.map(\.target))
        let incomplete = r.nodes.filter {
            $0.status != .completed && $0.status != .crashed && $0.role != .cpuHog
                && !targets.contains($0.name) && !targets.contains($0.group)
        }
        if r.aborted == nil, !incomplete.isEmpty {
            out.append(SLOResult(name: "nodes without a final dump", limit: 0, measured: Double(incomplete.count), unit: "nodes",
                                 pass: false, detail: incomplete.prefix(5).map { "\($0.name) \($0.status.rawValue)" }.joined(separator: ", ")
                                    + (incomplete.count > 5 ? ", …" : "")))
        }
        if let notWritten = r.totals.logLinesNotWritten, notWritten > 0 {
            let writers = r.nodes.filter { $0[.logLinesDropped] > 0 }.map(\.name)
            out.append(SLOResult(name: "log lines not written", limit: 0, measured: Double(notWritten), unit: "lines", pass: false,
                                 detail: "\(r.totals.logWriteErrors ?? 0) write errors in " + writers.prefix(5).joined(separator: ", ")))
        }
        if r.aborted != nil {
            out.append(SLOResult(name: "run completed", limit: 1, measured: 0, unit: "", pass: false, detail: r.aborted ?? ""))
        }
        return out
    }
}
