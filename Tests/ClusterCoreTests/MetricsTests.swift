import Foundation
import Testing

@testable import ClusterCore

/// Runs `python3` (found on PATH) with arguments; returns its exit status and output.
enum MetricsPython {
    static func run(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return (-1, "", "\(error)") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Whether `python3 -c 'import prometheus_client'` succeeds.
    static let hasPrometheusClient: Bool = run(["-c", "import prometheus_client"]).status == 0
}

@Suite("Metrics: LatencyRecorder")
struct MetricsLatencyRecorderTests {
    @Test func recordsIntoTotalAndInterval() {
        var r = LatencyRecorder()
        for us in 1...100 as ClosedRange<UInt64> { r.record(nanos: us * 1_000) }
        #expect(r.total.totalCount == 100 && r.interval.count == 100)
        #expect(r.clamped == 0)
        // The interval keeps raw samples: its percentiles are exact (nearest rank).
        let s = r.interval.summary()
        #expect(s.count == 100)
        #expect(s.p50Us == 50 && s.p99Us == 99 && s.maxUs == 100 && s.meanUs == 50.5)
        // The whole-run histogram: up to ~1 ms the resolution is 512 ns, the power of two at or below 1 µs.
        let h = LatencySummary(r.total)
        #expect(abs(h.p50Us - 50) <= 0.6 && abs(h.p99Us - 99) <= 0.6 && abs(h.maxUs - 100) <= 0.6)
        #expect(abs(h.meanUs - 50.5) <= 0.6)
    }

    @Test func rollAppendsAPointAndResetsTheInterval() {
        var r = LatencyRecorder()
        for _ in 0..<10 { r.record(nanos: 2_000_000) }
        let first = r.roll(t: 1, lostSoFar: 5)
        #expect(first.count == 10 && abs(first.p50Us - 2_000) <= 2)
        #expect(r.interval.count == 0 && r.total.totalCount == 10)
        let second = r.roll(t: 2, lostSoFar: 8)
        #expect(second == .empty)
        r.record(nanos: 3_000)
        r.roll(t: 3, lostSoFar: 8)
        #expect(r.series.map(\.t) == [1, 2, 3])
        #expect(r.series.map(\.count) == [10, 0, 1])
        #expect(r.series.map(\.lost) == [5, 3, 0])
        #expect(abs(r.series[0].p99Us - 2_000) <= 2 && abs(r.series[0].maxUs - 2_000) <= 2)
        #expect(r.total.totalCount == 11)
    }

    /// Values reach the whole-run histogram in batches; whatever is read, at
    /// whatever point of a batch, must equal a histogram fed one by one.
    @Test(arguments: [0, 1, LatencyRecorder.batch - 1, LatencyRecorder.batch, LatencyRecorder.batch + 1, 3 * LatencyRecorder.batch + 7,
                      IntervalSamples.capacity + 1_000])   // past the interval's reservoir
    func batchedTotalEqualsOneRecordedDirectly(n: Int) {
        var rng = SplitMix64(state: UInt64(n) &+ 11)
        var r = LatencyRecorder()
        var direct = LatencyHistogram.latency()
        for i in 0..<n {
            let v = 1_000 + rng.next() % 5_000_000
            r.record(nanos: v)
            _ = direct.record(v)
            if i == n / 2 { #expect(r.total == direct, "read mid-run after \(i + 1) values") }
        }
        #expect(r.total == direct && r.total.totalCount == UInt64(n))
        r.roll(t: 1, lostSoFar: 0)   // flushes: the histogram itself now holds them all
        #expect(r.total == direct)
        for _ in 0..<(LatencyRecorder.batch + 3) {   // a second interval adds to the same total
            r.record(nanos: 42_000)
            _ = direct.record(42_000)
        }
        #expect(r.total == direct)
        r.record(nanos: 7_000)
        r.reset()                      // a buffered value is forgotten with the rest
        #expect(r.total.totalCount == 0)
    }

    @Test func resetForgetsEverything() {
        var r = LatencyRecorder()
        r.record(nanos: 100_000_000_000)
        r.roll(t: 1, lostSoFar: 4)
        r.reset()
        #expect(r.total.totalCount == 0 && r.interval.count == 0 && r.series.isEmpty && r.clamped == 0)
        r.roll(t: 1, lostSoFar: 6)
        #expect(r.series.last?.lost == 6)  // loss counted from the reset, not from before it
        // After a reset the recorder records as a new one does.
        var fresh = LatencyRecorder()
        for v: UInt64 in [1_000, 5_123_456, 59_999_999_999] { r.record(nanos: v); fresh.record(nanos: v) }
        #expect(r.total == fresh.total)
        // Values still buffered (none in the histogram yet) are forgotten too.
        var buffered = LatencyRecorder()
        buffered.record(nanos: 3_000)
        buffered.record(nanos: 4_000)
        buffered.reset()
        #expect(buffered.total.totalCount == 0 && buffered.interval.count == 0)
    }

    @Test(arguments: [
        (60_000_000_000, false), (60_000_000_001, true), (3_600_000_000_000, true), (UInt64.max, true),
    ] as [(UInt64, Bool)])
    func valuesAboveSixtySecondsAreClamped(nanos: UInt64, clamped: Bool) {
        var r = LatencyRecorder()
        r.record(nanos: nanos)
        #expect(r.clamped == (clamped ? 1 : 0))
        #expect(r.total.totalCount == 1)
        #expect(r.total.max >= 59_900_000_000 && r.total.max <= 60_100_000_000)
    }

    @Test func summaryOfAnEmptyHistogramIsEmpty() {
        #expect(LatencySummary(LatencyHistogram.latency()) == .empty)
    }
}

@Suite("Metrics: histogram transfer and text")
struct MetricsHistogramTests {
    /// Latencies spread over 0 ns … 60 s, log-uniform, from a seeded generator.
    static func spread(seed: UInt64, count: Int) -> LatencyHistogram {
        var random = SeededRandom(seed: seed)
        var h = LatencyHistogram.latency()
        for _ in 0..<count {
            let exponent = Double(random.below(1_000_000)) / 1_000_000 * 10.8  // 10^0 … 10^10.8 ns
            _ = h.record(min(UInt64(pow(10, exponent)), 60_000_000_000))
        }
        _ = h.record(0)
        _ = h.record(500)
        _ = h.record(60_000_000_000)
        return h
    }

    static let percentiles: [Double] = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]

    @Test(arguments: [1, 2, 3] as [UInt64])
    func transferPreservesCountsAndPercentiles(seed: UInt64) throws {
        let h = Self.spread(seed: seed, count: 20_000)
        let data = h.encodedForTransfer()
        let back = try #require(LatencyHistogram.decodeLatency(data))
        #expect(back.totalCount == h.totalCount)
        for p in Self.percentiles {
            #expect(back.valueAtPercentile(p) == h.valueAtPercentile(p), "p\(p)")
        }
        #expect(back.max == h.max)
        #expect(Array(back.recordedValues().map { [$0.value, UInt64($0.count)] })
            == Array(h.recordedValues().map { [$0.value, UInt64($0.count)] }))
        #expect(LatencySummary(back) == LatencySummary(h))
    }

    @Test func transferOfAnEmptyHistogram() throws {
        let back = try #require(LatencyHistogram.decodeLatency(LatencyHistogram.latency().encodedForTransfer()))
        #expect(back.totalCount == 0)
    }

    @Test(arguments: ["", "not json", "[1,2,3]", "{\"a\":1}", "[-1,2]"])
    func badTransferDataIsRejected(text: String) {
        #expect(LatencyHistogram.decodeLatency(Data(text.utf8)) == nil)
    }

    @Test func hgrmTextHasTheHdrHistogramLayout() throws {
        var h = LatencyHistogram.latency()
        for us in 1...1_000 as ClosedRange<UInt64> { _ = h.record(us * 1_000) }
        let text = h.hgrmText()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first?.contains("Value     Percentile TotalCount 1/(1-Percentile)") == true)
        let mean = try #require(lines.first { $0.hasPrefix("#[Mean") })
        #expect(mean.contains("StdDeviation"))
        let total = try #require(lines.first { $0.hasPrefix("#[Max") })
        #expect(total.hasSuffix("1000]"))
        // Values in microseconds: the last row is the maximum, 1000 µs, at percentile 1.
        let rows = lines.filter { $0.first == " " && !$0.contains("Value") }
        let last = try #require(rows.last?.split(separator: " ").map(String.init))
        #expect(Double(last[0]).map { abs($0 - 1_000) < 1 } == true)
        #expect(Double(last[1]) == 1.0)
        #expect(last[2] == "1000")
    }
}

@Suite("Metrics: NodeMetrics")
struct MetricsNodeMetricsTests {
    static func sample(node: String = "cli-3", role: String = "cli", gauges: [String: Double]? = nil) -> NodeMetrics {
        var tracker = VersionTracker()
        for v: UInt64 in [1, 2, 4, 4, 7] { _ = tracker.observe(epoch: 11, version: v) }
        tracker.finish(finalEpoch: 11, finalVersion: 9)
        var recorder = LatencyRecorder()
        for us in 1...500 as ClosedRange<UInt64> { recorder.record(nanos: us * 1_700) }
        recorder.roll(t: 1, lostSoFar: 3)
        recorder.roll(t: 2.5, lostSoFar: 5)
        return NodeMetrics(
            node: node, role: NodeRole(name: role)!, pid: 4242, host: "host-a", incarnation: 1_714_000_000_000_000_001, epoch: 11,
            startedWallNs: 1_714_000_000_000_000_001, stoppedWallNs: 1_714_000_030_000_000_000,
            counters: tracker.counters.merging(["decode_errors": 0, "transition_IDLE->ACTIVE": 12, "big": .max]) { a, _ in a },
            gauges: gauges ?? ["lag_ms_last": 0.137, "run_seconds": 30.000000001, "query_busy_ratio": 1e-9, "neg": -2.5],
            latency: LatencySummary(recorder.total),
            latencies: ["query_service": LatencySummary(count: 3, p50Us: 1.5, p90Us: 2, p99Us: 3, p999Us: 3, maxUs: 3.25, meanUs: 2.1)],
            series: recorder.series,
            converge: [ConvergeEvent(trigger: .start, atWallNs: 1_714_000_000_000_000_001, millis: 12.75, version: 1),
                       ConvergeEvent(trigger: .epochChange, atWallNs: 5, millis: 0.001, version: 40)],
            process: ProcessStats(pid: 4242, cpuSeconds: 1.23, rssBytes: 22_000_000, ussBytes: 2_000_000, pssBytes: 5_000_000, threads: 3),
            notes: ["policy=drop", "clock=monotonic", "ünïcødé \"quoted\""])
    }

    @Test func jsonRoundTrips() throws {
        let m = Self.sample()
        let text = m.jsonText()
        #expect(text.hasSuffix("}\n"))
        #expect(try NodeMetrics.decode(json: text) == m)
        // Keys sorted, so dumps diff cleanly.
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(keys == keys.sorted())
        #expect(keys.contains("counters") && keys.contains("process") && keys.contains("series"))
    }

    @Test func jsonRoundTripsWithoutOptionalParts() throws {
        let m = NodeMetrics(node: "w", role: .writer, pid: 1, host: "h", incarnation: 1, startedWallNs: 2)
        #expect(try NodeMetrics.decode(json: m.jsonText()) == m)
    }

    @Test func aNonFiniteGaugeDoesNotEmptyTheDocument() throws {
        let m = Self.sample(gauges: ["ok": 1.5, "rate": .infinity, "ratio": .nan])
        let text = m.jsonText()
        let back = try NodeMetrics.decode(json: text)
        #expect(back.counters == m.counters && back.node == m.node && back.series == m.series)
        #expect(back.gauges["ok"] == 1.5 && back.gauges["rate"] == .infinity && back.gauges["ratio"]?.isNaN == true)
    }

    @Test func prometheusTextHasTheExpectedSeries() {
        let text = Self.sample().prometheusText()
        #expect(text.contains("# TYPE clustersim_received_total counter"))
        #expect(text.contains(#"clustersim_received_total{node="cli-3",role="cli"} 5"#))
        #expect(text.contains(#"clustersim_transition_IDLE__ACTIVE_total{node="cli-3",role="cli"} 12"#))
        #expect(text.contains(#"clustersim_fanout_latency_seconds{node="cli-3",role="cli",quantile="0.99"}"#))
        #expect(text.contains("clustersim_query_service_latency_seconds_count"))
        #expect(text.contains("clustersim_process_rss_bytes"))
        #expect(!text.contains("send_call"))
        #expect(Self.sample(role: "writer").prometheusText().contains("clustersim_send_call_latency_seconds"))
    }

    @Test(.enabled(if: MetricsPython.hasPrometheusClient,
                   "python3 cannot import prometheus_client (pip install prometheus_client)"),
          arguments: ["cli-3", #"od"d\node"#])
    func prometheusTextParsesWithPrometheusClient(node: String) throws {
        let m = Self.sample(node: node)
        let path = NSTemporaryDirectory() + "clustersim-metrics-\(UUID().uuidString).prom"
        try Data(m.prometheusText().utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
            print(json.dumps(out))
            """
        let result = MetricsPython.run(["-c", script, path])
        #expect(result.status == 0, "\(result.stderr)")
        struct Parsed: Decodable { var family: String; var type: String; var name: String; var labels: [String: String]; var value: Double }
        let parsed = try JSONDecoder().decode([Parsed].self, from: Data(result.stdout.utf8))
        func value(_ name: String, _ extra: [String: String] = [:]) -> Double? {
            parsed.first { $0.name == name && $0.labels == ["node": node, "role": "cli"].merging(extra) { a, _ in a } }?.value
        }
        #expect(value("clustersim_received_total") == 5)
        #expect(value("clustersim_lost_total") == Double(m.counters["lost"]!))
        #expect(value("clustersim_big_total") == Double(Int64.max))  // clamped to the counter's range
        #expect(value("clustersim_lag_ms_last") == 0.137)
        #expect(value("clustersim_neg") == -2.5)
        #expect(value("clustersim_fanout_latency_seconds", ["quantile": "0.5"]) == m.latency.p50Us / 1e6)
        #expect(value("clustersim_fanout_latency_seconds", ["quantile": "1"]) == m.latency.maxUs / 1e6)
        #expect(value("clustersim_fanout_latency_seconds_count") == Double(m.latency.count))
        #expect(value("clustersim_query_service_latency_seconds", ["quantile": "0.9"]) == 2e-6)
        #expect(value("clustersim_process_cpu_seconds") == 1.23)
        #expect(value("clustersim_process_pss_bytes") == 5_000_000)
        #expect(parsed.first { $0.name == "clustersim_received_total" }?.type == "counter")
        #expect(parsed.allSatisfy { $0.labels["node"] == node })
        // One sample per counter and gauge, five quantiles and a count per latency, four process gauges.
        #expect(parsed.count == m.counters.count + m.gauges.count + 2 * 6 + 4)
    }
}

@Suite("Metrics: ProcessStats and dumps")
struct MetricsProcessTests {
    @Test func hostStealFromProcStat() throws {
        let before = try #require(HostCPUTimes.parse("""
            cpu  100 5 50 800 10 0 5 30 7 0
            cpu0 50 2 25 400 5 0 3 15 7 0
            intr 12345
            procs_running 3
            """))
        // guest (7) is inside user already; idle is idle (800) plus iowait (10).
        #expect(before == HostCPUTimes(steal: 30, total: 1000, idle: 810, running: 3))
        let after = HostCPUTimes(steal: 30 + 25, total: 1000 + 100)
        #expect(after.stealPercent(since: before) == 25)
        #expect(before.stealPercent(since: before) == 0)
        // 100 ticks passed, 40 of them idle, on two CPUs: 60 % of one CPU busy, times two.
        let later = HostCPUTimes(steal: 30, total: 1100, idle: 850)
        #expect(later.busyPercent(since: before, cpus: 2) == 120)
        #expect(HostCPUTimes.parse("cpu  1 2 3\n") == nil)           // a kernel without a steal column
        #expect(HostCPUTimes.parse("intr 1\ncpu0 1 2 3 4 5 6 7 8\n") == nil)
        let now = try #require(HostCPUTimes.read())
        #expect(now.total > 0 && now.steal <= now.total)
    }

    @Test func currentProcessHasPlausibleStats() throws {
        // Burn a little CPU so that the counter has something to show.
        var x: UInt64 = 1
        for i in 0..<2_000_000 as Range<UInt64> { x = x &* 6364136223846793005 &+ i }
        #expect(x != 0)
        let s = try #require(ProcessStats.read())
        #expect(s.pid == getpid())
        #expect(s.rssBytes > 1_000_000)
        #expect(s.cpuSeconds >= 0)
        #expect(s.threads >= 1)
        if FileManager.default.isReadableFile(atPath: "/proc/self/smaps_rollup") {
            #expect(s.pssBytes > 0 && s.ussBytes > 0)
            #expect(s.ussBytes <= s.rssBytes)
        }
        let light = try #require(ProcessStats.read(withSmaps: false))
        #expect(light.ussBytes == 0 && light.pssBytes == 0 && light.rssBytes > 0)
    }

    @Test(arguments: [Int32.max, -1, 0])
    func aMissingProcessHasNoStats(pid: Int32) {
        #expect(ProcessStats.read(pid: pid) == nil)
    }

    @Test func hostInfoIsPlausible() {
        let h = HostInfo.current()
        #expect(!h.hostname.isEmpty && h.cores >= 1 && h.memoryBytes > 0)
        #expect(h.kernel.hasPrefix("Linux "))
    }

    @Test func dumpWritesTheThreeFiles() throws {
        let dir = NSTemporaryDirectory() + "clustersim-dump-\(UUID().uuidString)/nested"
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        try MetricsDump.write(json: "{}\n", prom: "# x\n", hgrm: "h\n", to: dir)
        for (name, text) in [("metrics.json", "{}\n"), ("metrics.prom", "# x\n"), ("latency.hgrm", "h\n")] {
            #expect(try String(contentsOfFile: dir + "/" + name, encoding: .utf8) == text)
        }
    }

    @Test func dumpErrorNamesThePath() throws {
        let dir = NSTemporaryDirectory() + "clustersim-dump-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // metrics.prom is a directory, so writing the file fails.
        try FileManager.default.createDirectory(atPath: dir + "/metrics.prom", withIntermediateDirectories: true)
        let error = try #require(throws: MetricsDump.DumpError.self) {
            try MetricsDump.write(json: "{}", prom: "x", hgrm: "h", to: dir)
        }
        #expect(error.path == dir + "/metrics.prom")
        #expect(error.description.hasPrefix("cannot write \(dir)/metrics.prom: "))
    }
}

@Suite("Metrics: IntervalSamples")
struct IntervalSamplesTests {
    @Test func beyondCapacityCountMaxAndMeanStayExactAndPercentilesStayClose() {
        var i = IntervalSamples()
        let n = IntervalSamples.capacity * 4
        for k in 1...n { i.record(UInt64(k) * 1_000) }
        let s = i.summary()
        #expect(s.count == UInt64(n))
        #expect(s.maxUs == Double(n))
        #expect(abs(s.meanUs - Double(n + 1) / 2) < 1e-6 * Double(n))
        // A uniform reservoir of a quarter of the values: the median within 3 %.
        #expect(abs(s.p50Us - Double(n) / 2) < 0.03 * Double(n))
        #expect(abs(s.p99Us - 0.99 * Double(n)) < 0.01 * Double(n))
        i.reset()
        #expect(i.summary() == .empty)
    }

    /// The percentiles come from selection, not a sort: they must be exactly
    /// the nearest-rank values of the sorted samples, duplicates and all.
    @Test(arguments: [1, 2, 3, 10, 99, 100, 101, 1_000, 4_097, IntervalSamples.capacity])
    func percentilesAreTheNearestRanksOfTheSortedSamples(n: Int) {
        var rng = SplitMix64(state: UInt64(n))
        for spread: UInt64 in [3, 1_000_000] {   // many duplicates, then few
            var i = IntervalSamples()
            var values: [UInt64] = []
            for _ in 0..<n {
                let v = 1_000 + rng.next() % spread * 1_000
                values.append(v)
                i.record(v)
            }
            let sorted = values.sorted()
            func rank(_ p: Double) -> Double {
                Double(sorted[min(max(1, Int((p / 100 * Double(n)).rounded(.up))), n) - 1]) / 1000
            }
            let s = i.summary()
            #expect(s.p50Us == rank(50), "n \(n) spread \(spread)")
            #expect(s.p90Us == rank(90), "n \(n) spread \(spread)")
            #expect(s.p99Us == rank(99), "n \(n) spread \(spread)")
            #expect(s.p999Us == rank(99.9), "n \(n) spread \(spread)")
            #expect(s.maxUs == Double(sorted[n - 1]) / 1000)
        }
    }
}

@Suite("Metrics: scheduling")
struct SchedulingStatsTests {
    @Test("this process's scheduling figures grow with the CPU it burns")
    func readsThisProcess() throws {
        // The figures are summed over the threads there are: one that ends between the
        // two reads takes its share out of the sum (the next test). This test process
        // starts and ends threads, so a window is tried again, at most five times.
        var deltas: [SchedulingDelta] = []
        var x: UInt64 = 1
        for _ in 0..<5 {
            let before = try #require(SchedulingStats.read())
            let end = SystemClock.monotonicNanos() + 30_000_000
            while SystemClock.monotonicNanos() < end { x = x &* 6364136223846793005 &+ 1 }
            let after = try #require(SchedulingStats.read())
            deltas.append(after.delta(since: before))
            if deltas.last!.cpuNanos >= 10_000_000 { break }
        }
        #expect(deltas.last!.cpuNanos >= 10_000_000 || x == 0, "\(deltas)")
    }

    @Test("a delta is never negative: a count that went down (a thread ended in between) counts 0")
    func deltaClamps() {
        let a = SchedulingStats(cpuNanos: 5_000, runQueueNanos: 10_000, involuntarySwitches: 3)
        let b = SchedulingStats(cpuNanos: 8_000, runQueueNanos: 4_000, involuntarySwitches: 3)
        #expect(b.delta(since: a) == SchedulingDelta(cpuNanos: 3_000, runQueueNanos: 0, involuntarySwitches: 0))
        #expect(a.delta(since: b) == SchedulingDelta(cpuNanos: 0, runQueueNanos: 6_000, involuntarySwitches: 0))
    }

    @Test("a series point carries the interval's scheduling, and older dumps without it still decode")
    func seriesPointFields() throws {
        var r = LatencyRecorder()
        r.record(nanos: 1_000)
        r.roll(t: 1, lostSoFar: 0, scheduling: SchedulingDelta(cpuNanos: 5_000_000, runQueueNanos: 190_000_000, involuntarySwitches: 7))
        let p = try #require(r.series.last)
        #expect(p.cpuMs == 5 && p.runQueueMs == 190 && p.involuntarySwitches == 7)
        let old = try JSONDecoder().decode(SeriesPoint.self, from: Data(#"{"t":1,"count":2,"p50Us":3,"p99Us":4,"maxUs":5,"lost":0}"#.utf8))
        #expect(old.runQueueMs == nil && old.count == 2)
    }
}
