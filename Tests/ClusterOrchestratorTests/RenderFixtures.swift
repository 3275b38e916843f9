import ClusterCore
import ClusterOrchestrator
import Foundation

/// Synthetic run reports for the renderer tests: deterministic numbers, no I/O.
enum RenderFixtures {
    static func latency(p50: Double, p99: Double, max: Double, count: UInt64 = 30_000) -> LatencySummary {
        LatencySummary(count: count, p50Us: p50, p90Us: (p50 + p99) / 2, p99Us: p99, p999Us: p99 * 1.5, maxUs: max, meanUs: p50 * 1.2)
    }

    static func host() -> HostInfo {
        var h = HostInfo.current()
        h.hostname = "testhost"
        h.cores = 2
        h.kernel = "Linux 6.1.0-test"
        h.memoryBytes = 8 << 30
        return h
    }

    /// A deterministic wobble in 0..<1 from two integers.
    static func wobble(_ a: Int, _ b: Int) -> Double {
        var x = UInt64(truncatingIfNeeded: a) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: b) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 31
        x = x &* 0x94D0_49BB_1331_11EB
        return Double((x ^ (x >> 29)) % 1000) / 1000
    }

    static func series(seed: Int, seconds: Int, base: Double, spikeAt: Double? = nil, until: Int? = nil) -> [SeriesPoint] {
        (1...seconds).compactMap { s -> SeriesPoint? in
            if let until, s > until { return nil }
            let t = Double(s) + 0.0004 * Double(seed % 3)
            var p99 = base * (3 + 2 * wobble(seed, s))
            if let spikeAt, Double(s) >= spikeAt, Double(s) < spikeAt + 3 { p99 *= 6 }
            return SeriesPoint(t: t, count: 1_000, p50Us: base * (1 + 0.3 * wobble(s, seed)), p99Us: p99, maxUs: p99 * 1.4,
                               lost: 0)
        }
    }

    static func resources(seed: Int, seconds: Int, rss: Double, cpu: Double, until: Int? = nil) -> ResourceSummary {
        let end = until ?? seconds
        let samples = (0...(end * 2)).map { i -> [Double] in
            let t = Double(i) / 2
            let r = rss + Double(i) * 0.01 + wobble(seed, i)
            return [t, cpu * (0.8 + 0.4 * wobble(i, seed)), r, r * 0.12, r * 0.3]
        }
        return ResourceSummary(peakCpuPercent: cpu * 1.2, meanCpuPercent: cpu, peakRssMB: samples.map { $0[2] }.max()!,
                               meanRssMB: rss + 1, peakUssMB: rss * 0.12, peakPssMB: rss * 0.3, growthMB: 0.4,
                               samples: samples.map { ResourceSample(t: $0[0], cpuPercent: $0[1], rssMB: $0[2], ussMB: $0[3], pssMB: $0[4]) })
    }

    static func node(_ name: String, role: String, index: Int, seconds: Int, fast: Bool = true, status: String = "completed",
                     policy: String? = "drop", lost: UInt64 = 0, skipped: UInt64 = 0, base: Double = 300,
                     until: Int? = nil, restarts: Int = 0) -> NodeReport {
        let received: UInt64 = 30_000 - lost - skipped
        let series = series(seed: index, seconds: seconds, base: base, spikeAt: 10, until: until)
        return NodeReport(
            name: name, group: role, role: NodeRole(name: role)!, policy: role == "writer" ? nil : policy, fast: fast, status: NodeStatus(rawValue: status)!,
            exit: status == "killed" ? "signal 9" : "0", restarts: restarts, pids: [Int32(1000 + index)],
            counters: role == "writer" ? ["published": 30_000] : ["received": received, "lost": lost, "skipped": skipped],
            gauges: [:], latency: latency(p50: base, p99: base * 4 + Double(index), max: base * 20),
            latencies: [:], series: role == "writer" ? [] : series,
            converge: role == "writer" ? [] : [ConvergeEvent(trigger: .start, atWallNs: 1_000 + UInt64(index), millis: 2 + Double(index) / 10, version: 1)],
            resources: resources(seed: index, seconds: seconds, rss: role == "writer" ? 30 : 20 + Double(index % 7), cpu: role == "writer" ? 45 : 6,
                                 until: until))
    }

    /// A 30-second run: a writer, 3 reader roles (log, query, cli) with 27 readers,
    /// one of them killed by a fault, one slow, one named `<x&y>`; 3 SLOs, the loss one failing.
    static func report(aborted: String? = nil, passing: Bool = false) -> RunReport {
        let seconds = 30
        var nodes = [node("writer", role: "writer", index: 0, seconds: seconds)]
        for i in 1...3 { nodes.append(node("log-\(i)", role: "log", index: i, seconds: seconds)) }
        for i in 1...3 { nodes.append(node("query-\(i)", role: "query", index: 10 + i, seconds: seconds, base: 450)) }
        for i in 1...18 {
            if i == 3 {
                nodes.append(node("cli-3", role: "cli", index: 20 + i, seconds: seconds, status: "killed", lost: 19_500, until: 10))
            } else {
                nodes.append(node("cli-\(i)", role: "cli", index: 20 + i, seconds: seconds, lost: i == 7 ? 12 : 0))
            }
        }
        nodes.append(node("<x&y>", role: "cli", index: 60, seconds: seconds, lost: 3))
        nodes.append(node("slow", role: "log", index: 70, seconds: seconds, fast: false, policy: "resync", skipped: 800, base: 2_000))

        let readers = nodes.filter { $0.role != .writer }
        let slo = [
            SLOResult(name: "p99LatencyMs", limit: 5, measured: 1.85, unit: "ms", pass: true, detail: "merged fast readers"),
            SLOResult(name: "maxLossFastReaders", limit: 0, measured: passing ? 0 : 15, unit: "versions", pass: passing,
                      detail: passing ? "" : "cli-7: 12, <x&y>: 3"),
            SLOResult(name: "maxReaderRssMB", limit: 40, measured: 27.3, unit: "MB", pass: true, detail: ""),
        ]
        let curve = (0...16).map { k in PercentilePoint(percentile: 100 * (1 - pow(0.5, Double(k))), us: 250 + 25 * pow(1.6, Double(k))) }
            + [PercentilePoint(percentile: 100, us: 48_000)]
        return RunReport(
            name: "render-test", topologyFile: "topologies/render-test.json", runDirectory: "runs/render-test-20250101-000000",
            startedWallNs: 1_735_689_600_000_000_000, durationSeconds: Double(seconds), seed: 42, launcher: "local",
            aborted: aborted,
            environment: .init(host: host(), libzmq: "4.3.4", orchestratorPid: 99, orchestratorCpuPercent: 3.5, orchestratorPeakRssMB: 31.2,
                                hostStealPercent: 12.34),
            timings: .init(launchToReadyMs: 412, teardownMs: 85, collectMs: 40),
            writer: .init(published: 30_000, finalVersion: 30_000, epoch: 1, rateAsked: 1_000, rateAchieved: 999.87,
                          illegalEvents: 0, sendCallLatency: latency(p50: 8, p99: 31, max: 400), restarts: 0),
            nodes: nodes,
            latencyByRole: ["log": latency(p50: 310, p99: 1_250, max: 9_000), "query": latency(p50: 460, p99: 1_850, max: 12_000),
                            "cli": latency(p50: 330, p99: 1_400, max: 48_000)],
            latencyOverall: latency(p50: 340, p99: 1_500, max: 48_000), percentileCurve: curve,
            totals: .init(readers: readers.count, fastReaders: readers.count - 2, delivered: readers.reduce(0) { $0 + $1.received },
                          lost: 19_515, lostFastReaders: 15, skipped: 800, decodeErrors: 0, crashes: 0, queryServed: 120_000,
                          queryBusy: 12, busyRatio: 0.0001, peakReaderRssMB: 27.3, maxMemoryGrowthMB: 0.4, maxConvergeMs: 9.0),
            faults: [FaultRecord(plannedAtSeconds: 10, appliedAtSeconds: 10.012, action: .fault(.kill), target: "cli-3",
                                 detail: "SIGKILL pid 1023", outcome: .applied, source: "topology")],
            slo: slo)
    }

    /// A report where nothing was measured: no series, no resources, no curve, no faults.
    static func empty() -> RunReport {
        var r = report()
        r.nodes = r.nodes.prefix(3).map { n in
            var n = n
            n.series = []
            n.resources = nil
            n.converge = []
            n.latency = .empty
            n.counters = [:]
            return n
        }
        r.nodes[1].resources = ResourceSummary(peakCpuPercent: 0, meanCpuPercent: 0, peakRssMB: 0, meanRssMB: 0, peakUssMB: 0,
                                               peakPssMB: 0, growthMB: 0, samples: [])
        r.percentileCurve = []
        r.latencyByRole = [:]
        r.latencyOverall = .empty
        r.faults = []
        r.slo = []
        return r
    }
}
