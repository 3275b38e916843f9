import ClusterCore
import Testing

@testable import ClusterOrchestrator

/// Spikes found in synthetic series, and what they are put down to.
@Suite("Spike attribution")
struct SpikeAttributionTests {
    /// A report of `readers` fast cli readers over 20 s: p99 2 ms and run-queue wait 5 ms a second, except as changed.
    static func report(readers: Int = 6, change: (Int, Int, inout SeriesPoint) -> Void = { _, _, _ in }) -> RunReport {
        var r = RenderFixtures.report(passing: true)
        r.faults = []
        r.host = nil
        let template = r.nodes.first { $0.role == .reader(.cli) }!
        r.nodes = [r.nodes.first { $0.role == .writer }!] + (0..<readers).map { i in
            var n = template
            n.name = "cli-\(i + 1)"
            n.fast = true
            n.series = (1...20).map { s in
                var p = SeriesPoint(t: Double(s) + 0.37, count: 1_000, p50Us: 500, p99Us: 2_000, maxUs: 4_000, lost: 0,
                                    scheduling: SchedulingDelta(cpuNanos: 10_000_000, runQueueNanos: 5_000_000, involuntarySwitches: 3))
                change(i, s, &p)
                return p
            }
            return n
        }
        r.nodes[0].series = []
        return r
    }

    @Test("a quiet run has no spikes")
    func quiet() {
        #expect(SpikeAttribution.spikes(in: Self.report()).isEmpty)
    }

    @Test("readers that waited on the run queue while their latency jumped: the stretch and the wait are named")
    func runQueue() throws {
        let r = Self.report { i, s, p in
            guard i < 4, (6...8).contains(s) else { return }
            p.p99Us = 250_000
            p.runQueueMs = 190
        }
        let spikes = SpikeAttribution.spikes(in: r)
        let s = try #require(spikes.first)
        #expect(spikes.count == 1 && s.fromSeconds == 6 && s.toSeconds == 8 && s.readers == 4 && s.p99Us == 250_000)
        #expect(s.causes == ["those readers waited 190 ms a second on the run queue (typically 5.00 ms)"], "\(s.causes)")
    }

    @Test("a fault applied just before a spike is named; a spike with nothing measured says so")
    func faultAndNothing() throws {
        var r = Self.report { _, s, p in
            if s == 12 || s == 17 { p.p99Us = 900_000 }
        }
        r.faults = [FaultRecord(plannedAtSeconds: 11, appliedAtSeconds: 11.2, action: .fault(.pause), target: "hub", detail: "",
                                outcome: .applied, source: "faults[0]")]
        let spikes = SpikeAttribution.spikes(in: r)
        #expect(spikes.map(\.fromSeconds) == [12, 17])
        #expect(spikes[0].causes == ["pause hub at 11.2 s"], "\(spikes[0].causes)")
        #expect(spikes[1].causes == ["no visible cause"])
    }

    @Test("a busy or stolen host and a stalled writer are named with their figures")
    func hostAndWriter() throws {
        var r = Self.report { _, s, p in if s == 9 { p.p99Us = 80_000 } }
        r.environment.host.cores = 2
        r.host = (1...20).map { (s: Int) -> HostSample in
            let spike = s == 9
            return HostSample(t: Double(s), cpuBusyPercent: spike ? 198 : 60, stealPercent: spike ? 12 : 0, runQueue: spike ? 31 : 3)
        }
        r.nodes[0].series = [SeriesPoint(t: 9.1, count: 1_000, p50Us: 30, p99Us: 900, maxUs: 42_000, lost: 0)]
        let s = try #require(SpikeAttribution.spikes(in: r).first)
        #expect(s.causes == ["host CPU 198 % of 200 %, run queue up to 31", "host steal 12.0 %",
                             "the writer's send call took up to 42.0 ms"], "\(s.causes)")
        r.spikes = [s]
        let text = ReportWriter.summary(r)
        #expect(text.contains("latency spikes (a fast reader's p99 in a second above 3× the run's typical 2.000 ms, and 10 ms more)"), "\(text)")
        #expect(text.contains("host steal 12.0 %; the writer's send call took up to 42.0 ms"))
    }

    @Test("a host saturated for most of the run is said to be, with the readers' wait; a calm one only counts its busy seconds")
    func saturation() throws {
        var r = Self.report { _, _, p in p.runQueueMs = 120 }
        r.environment.host.cores = 2
        r.durationSeconds = 20
        r.host = (1...20).map { HostSample(t: Double($0), cpuBusyPercent: $0 <= 15 ? 199 : 120, stealPercent: 0, runQueue: 17) }
        let s = try #require(SpikeAttribution.saturation(in: r))
        #expect(s.seconds == 20 && s.saturatedSeconds == 15 && s.mostly)
        #expect(s.medianRunQueue == 17 && s.readersRunQueueMs == 120 && s.readersP99Ms == 2)
        #expect(s.sentence.hasSuffix("the latency figures measure this host's run queue as much as the design"), "\(s.sentence)")
        r.hostSaturation = s
        #expect(ReportWriter.summary(r).contains("host: host CPU at 90 % or more of all CPUs in 15 of 20 s, 17.0 runnable tasks"))

        r.host = (1...20).map { HostSample(t: Double($0), cpuBusyPercent: $0 == 3 ? 190 : 40, stealPercent: 0, runQueue: 2) }
        let calm = try #require(SpikeAttribution.saturation(in: r))
        #expect(calm.saturatedSeconds == 1 && !calm.mostly && !calm.sentence.contains("as much as the design"))
        r.host = nil
        #expect(SpikeAttribution.saturation(in: r) == nil)
    }
}
