import ClusterCore
import Testing

@testable import ClusterOrchestrator

/// A node's resource series stays bounded however long the run, and its summary exact.
@Suite("Resource series")
struct ResourceSeriesTests {
    static func stats(cpu: Double, rssMB: Double) -> ProcessStats {
        ProcessStats(pid: 1, cpuSeconds: cpu, rssBytes: UInt64(rssMB * 1_048_576), ussBytes: 0, pssBytes: 0, threads: 1)
    }

    @Test("an hour of samples keeps at most 1 024, evenly spread; peaks and means are over every sample")
    func bounded() throws {
        var s = ResourceSeries()
        // 7 200 samples, 500 ms apart: RSS grows 20 → 30 MB, one peak of 99 MB at sample 4 001.
        for i in 0..<7_200 {
            let rss = i == 4_001 ? 99 : 20 + Double(i) / 720
            s.add(t: Double(i) / 2, stats: Self.stats(cpu: Double(i) / 20, rssMB: rss), withSmaps: false)
        }
        let sum = try #require(s.summary())
        #expect(s.samples.count <= ResourceSeries.maxKept && s.samples.count >= ResourceSeries.maxKept / 2, "\(s.samples.count)")
        let gaps = Set(zip(s.samples, s.samples.dropFirst()).map { $1.t - $0.t })
        #expect(gaps.count == 1, "the kept samples are evenly spaced: \(gaps)")
        #expect(sum.peakRssMB == 99, "the peak is kept even when its sample is not")
        #expect(abs(sum.meanCpuPercent - 10) < 0.01, "\(sum.meanCpuPercent)")
        #expect(abs(sum.meanRssMB - (20 + 7_199.0 / 1_440 + 79.0 / 7_200)) < 0.01, "\(sum.meanRssMB)")
        #expect(abs(sum.growthMB - 9.83) < 0.1, "last minute against the first: \(sum.growthMB)")
    }

    @Test("a short run keeps every sample, as before")
    func short() throws {
        var s = ResourceSeries()
        for i in 0..<40 { s.add(t: Double(i) / 2, stats: Self.stats(cpu: Double(i) / 10, rssMB: 25), withSmaps: false) }
        #expect(s.samples.count == 40)
        let sum = try #require(s.summary())
        #expect(sum.peakCpuPercent == 20 && sum.meanCpuPercent == 20 && sum.growthMB == 0)
    }
}
