/// What a batching writer's frames carried: how many frames held how many
/// versions (a histogram of batch sizes in powers of two), and how long each
/// version waited between being made and the send of its frame.
///
/// The writer reports it through its counters (`frames_versions_le_<n>`:
/// frames of more than half of `n` and at most `n` versions) and its
/// `batching_delay` latency, so the dumps need no new field, and the report
/// reads the histogram back with ``init(counters:)``.
public struct BatchStatistics: Sendable {
    /// The upper bounds of the size buckets: 1, 2, 4, … 4096.
    public static let bounds: [Int] = (0...12).map { 1 << $0 }

    /// Frames per bucket of ``bounds``.
    public private(set) var frames: [UInt64] = Array(repeating: 0, count: BatchStatistics.bounds.count)
    /// Versions in all the frames.
    public private(set) var versions: UInt64 = 0
    /// From making each version to the send of its frame.
    public private(set) var delay = LatencyHistogram.latency()

    public init() {}

    /// Counts a frame of `count` versions (at least 1; more than 4096 counts as 4096).
    public mutating func record(frameOf count: Int) {
        precondition(count >= 1, "a frame carries at least one version")
        let bucket = count <= 1 ? 0 : min(Self.bounds.count - 1, Int.bitWidth - (count - 1).leadingZeroBitCount)
        frames[bucket] += 1
        versions += UInt64(count)
    }

    /// Records how long one version waited for its frame.
    public mutating func recordDelay(nanos: UInt64) {
        _ = delay.record(max(1_000, min(nanos, 60_000_000_000)))
    }

    /// Frames sent.
    public var frameCount: UInt64 { frames.reduce(0, +) }

    /// Frames of more than one version.
    public var batchFrames: UInt64 { frameCount - frames[0] }

    /// The counter name of the bucket up to `bound` versions.
    public static func counterName(upTo bound: Int) -> String { "frames_versions_le_\(bound)" }

    /// The histogram as counters (empty buckets left out) plus `frames` and `batched_versions`.
    public var counters: [String: UInt64] {
        var c: [String: UInt64] = [:]
        for (i, n) in frames.enumerated() where n > 0 { c[Self.counterName(upTo: Self.bounds[i])] = n }
        c[.framesSent] = frameCount
        c[.batchFrames] = batchFrames
        c[.batchedVersions] = versions - frames[0]
        return c
    }

    /// The histogram read back from a node's counters; nil when it holds none.
    public init?(counters: [String: UInt64]) {
        var found = false
        for (i, bound) in Self.bounds.enumerated() {
            guard let n = counters[Self.counterName(upTo: bound)] else { continue }
            frames[i] = n
            found = true
        }
        guard found else { return nil }
        versions = counters[.published]
    }
}
