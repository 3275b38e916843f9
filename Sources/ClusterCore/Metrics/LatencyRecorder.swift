import Foundation
import Histogram

/// Percentiles of a latency distribution, in microseconds.
public struct LatencySummary: Sendable, Hashable, Codable {
    public var count: UInt64
    public var p50Us: Double
    public var p90Us: Double
    public var p99Us: Double
    public var p999Us: Double
    public var maxUs: Double
    public var meanUs: Double

    public static let empty = LatencySummary(count: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, meanUs: 0)

    public init(count: UInt64, p50Us: Double, p90Us: Double, p99Us: Double, p999Us: Double, maxUs: Double, meanUs: Double) {
        self.count = count
        self.p50Us = p50Us
        self.p90Us = p90Us
        self.p99Us = p99Us
        self.p999Us = p999Us
        self.maxUs = maxUs
        self.meanUs = meanUs
    }

    /// The summary of a nanosecond histogram.
    public init(_ h: LatencyHistogram) {
        guard h.totalCount > 0 else { self = .empty; return }
        func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        self.init(
            count: h.totalCount,
            p50Us: us(h.valueAtPercentile(50)),
            p90Us: us(h.valueAtPercentile(90)),
            p99Us: us(h.valueAtPercentile(99)),
            p999Us: us(h.valueAtPercentile(99.9)),
            maxUs: us(h.max),
            meanUs: h.mean / 1000
        )
    }
}

/// A latency histogram in nanoseconds: 1 µs … 60 s, 3 significant digits.
public typealias LatencyHistogram = Histogram<UInt64>

extension Histogram where Count == UInt64 {
    /// The histogram every node records fan-out latency into.
    public static func latency() -> LatencyHistogram {
        LatencyHistogram(lowestDiscernibleValue: 1_000, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    /// HdrHistogram's percentile-distribution text (`.hgrm`), values in microseconds.
    public func hgrmText() -> String {
        var out = ""
        outputPercentileDistribution(to: &out, outputValueUnitScalingRatio: 1000)
        return out
    }

    /// A compact binary encoding for shipping to the orchestrator (JSON of the
    /// recorded values: value → count pairs), decoded by `decodeLatency`.
    public func encodedForTransfer() -> Data {
        var pairs: [UInt64] = []
        for v in recordedValues() {
            pairs.append(v.value)
            pairs.append(UInt64(v.count))
        }
        return (try? JSONEncoder().encode(pairs)) ?? Data()
    }

    /// The histogram shipped by `encodedForTransfer()`.
    public static func decodeLatency(_ data: Data) -> LatencyHistogram? {
        guard let pairs = try? JSONDecoder().decode([UInt64].self, from: data), pairs.count % 2 == 0 else { return nil }
        var h = LatencyHistogram.latency()
        var i = 0
        while i < pairs.count {
            _ = h.record(Swift.min(pairs[i], 60_000_000_000), count: pairs[i + 1])
            i += 2
        }
        return h
    }
}

/// One point of a per-interval latency series.
public struct SeriesPoint: Sendable, Hashable, Codable {
    /// Seconds since the measured phase started.
    public var t: Double
    public var count: UInt64
    public var p50Us: Double
    public var p99Us: Double
    public var maxUs: Double
    public var lost: UInt64
    /// The process's CPU time over the second, ms (all its threads); nil in dumps written before it.
    public var cpuMs: Double?
    /// How long its threads waited on a run queue over the second, ms (`schedstat`): the
    /// time they were ready to run and no CPU took them.
    public var runQueueMs: Double?
    /// Involuntary context switches of its threads over the second (preempted, not waiting).
    public var involuntarySwitches: UInt64?

    public init(t: Double, count: UInt64, p50Us: Double, p99Us: Double, maxUs: Double, lost: UInt64,
                scheduling: SchedulingDelta? = nil) {
        self.t = t
        self.count = count
        self.p50Us = p50Us
        self.p99Us = p99Us
        self.maxUs = maxUs
        self.lost = lost
        cpuMs = scheduling.map { Double($0.cpuNanos) / 1e6 }
        runQueueMs = scheduling.map { Double($0.runQueueNanos) / 1e6 }
        involuntarySwitches = scheduling?.involuntarySwitches
    }
}

/// The latencies of one interval, kept as raw samples.
///
/// A per-second HdrHistogram cost far more than the messages it measured:
/// resetting and walking ~27 000 buckets five times a second per reader.
/// An interval holds at most a few tens of thousands of values; selecting
/// percentiles among them once a second is exact and cheap. Past `capacity`
/// values a uniform reservoir (Algorithm R, seeded) keeps the percentiles
/// honest while count, max and mean stay exact. The capacity is above the
/// rates a reader is measured at (10 000 msg/s and more): past it, every
/// value goes to the whole-run histogram on its own and may replace a
/// random kept sample, two cache misses per message, which at 8 192 cost
/// a 10 000 msg/s reader a fifth of its messages.
public struct IntervalSamples: Sendable {
    public static let capacity = 32_768
    @usableFromInline var samples: [UInt64] = []
    @inlinable public var count: UInt64 { _count }
    @usableFromInline var _count: UInt64 = 0
    @usableFromInline var sum: Double = 0
    @usableFromInline var maxValue: UInt64 = 0
    @usableFromInline var rng: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init() { samples.reserveCapacity(1_024) }

    @inlinable @inline(__always)
    public mutating func record(_ v: UInt64) {
        _count &+= 1
        sum += Double(v)
        if v > maxValue { maxValue = v }
        if samples.count < Self.capacity {
            samples.append(v)
        } else {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            let j = rng % _count
            if j < UInt64(Self.capacity) { samples[Int(j)] = v }
        }
    }

    /// Percentiles of the interval (nearest rank), in microseconds.
    ///
    /// Exact, by selection rather than a sort: each rank is found with a
    /// quickselect in the part above the previous one (a few passes over the
    /// samples instead of n log n; the sort was a twentieth of a reader's
    /// instructions per message).
    public func summary() -> LatencySummary {
        guard count > 0, !samples.isEmpty else { return .empty }
        var work = samples
        let n = work.count
        var lower = 0
        func at(_ p: Double) -> Double {
            let rank = Swift.min(Swift.max(1, Int((p / 100 * Double(n)).rounded(.up))), n)
            let value = Self.select(&work, rank - 1, from: lower)
            lower = rank - 1
            return Double(value) / 1000
        }
        return LatencySummary(count: count, p50Us: at(50), p90Us: at(90), p99Us: at(99), p999Us: at(99.9),
                              maxUs: Double(maxValue) / 1000, meanUs: sum / Double(count) / 1000)
    }

    /// Rearranges `a[lower...]` so that `a[k]` holds the value a sort would
    /// put there, everything before it is no greater and everything after no
    /// smaller; returns `a[k]`. Requires every element before `lower` to be no
    /// greater than those from `lower` on (true after an earlier selection).
    static func select(_ a: inout [UInt64], _ k: Int, from lower: Int) -> UInt64 {
        a.withUnsafeMutableBufferPointer { b in
            var lo = lower, hi = b.count - 1
            while lo < hi {
                // Median of three as the pivot; Hoare partition.
                let mid = lo + (hi - lo) / 2
                if b[mid] < b[lo] { b.swapAt(mid, lo) }
                if b[hi] < b[lo] { b.swapAt(hi, lo) }
                if b[hi] < b[mid] { b.swapAt(hi, mid) }
                let pivot = b[mid]
                var i = lo, j = hi
                while i <= j {
                    while b[i] < pivot { i += 1 }
                    while b[j] > pivot { j -= 1 }
                    if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
                }
                if k <= j { hi = j } else if k >= i { lo = i } else { break }
            }
            return b[k]
        }
    }

    /// How many samples are kept (`count` up to `capacity`, then `capacity`).
    @inlinable @inline(__always)
    public var keptCount: Int { samples.count }

    /// Calls `body` with each kept sample from index `start` on, in the order kept.
    @inline(__always)
    public func forEachKept(from start: Int, _ body: (UInt64) -> Void) {
        samples.withUnsafeBufferPointer { b in
            var i = start
            while i < b.count { body(b[i]); i += 1 }
        }
    }

    public mutating func reset() {
        samples.removeAll(keepingCapacity: true)
        _count = 0
        sum = 0
        maxValue = 0
    }
}

/// Records latencies into a whole-run histogram and an interval that is
/// rolled into a per-second series.
///
/// Values reach the whole-run histogram in batches, from the interval's own
/// samples: each value is appended there anyway (sequential, lines shared
/// with its neighbours), and every `batch` values, and before anything reads
/// the histogram, the ones not yet recorded are recorded in one pass. A
/// histogram increment per message touched a different counter line each
/// time (1 µs buckets over a spread of milliseconds), a cache miss in every
/// reader on a machine where a hundred readers take turns on two cores; a
/// pass over 512 values keeps the counters it touches in cache. Once the
/// interval's reservoir is full (it then replaces kept samples), values go
/// to the histogram one by one.
public struct LatencyRecorder: Sendable {
    private var histogram = LatencyHistogram.latency()
    @inlinable public var interval: IntervalSamples { _interval }
    @usableFromInline var _interval = IntervalSamples()
    /// Kept samples of the interval already recorded into `histogram`.
    @usableFromInline var flushed = 0
    public private(set) var series: [SeriesPoint] = []
    private var lostAtLastRoll: UInt64 = 0
    /// Values clamped because they were above the trackable range.
    public private(set) var clamped: UInt64 = 0
    /// Values taken before they are recorded into the histogram together.
    public static let batch = 512

    public init() {}

    /// The whole-run histogram, every value recorded so far included.
    public var total: LatencyHistogram {
        if flushed == interval.keptCount { return histogram }
        var copy = self   // shares its storage until the flush writes the copy's histogram
        copy.flush()
        return copy.histogram
    }

    /// Records one latency in nanoseconds.
    /// The usual case, a value in range while the interval has room and no
    /// batch is due, is inlined into the caller; the rest is out of line.
    @inlinable @inline(__always)
    public mutating func record(nanos: UInt64) {
        let kept = _interval.keptCount
        if nanos <= 60_000_000_000, kept < IntervalSamples.capacity, kept &+ 1 &- flushed < Self.batch {
            _interval.record(nanos)
            return
        }
        recordOther(nanos: nanos)
    }

    @usableFromInline @inline(never)
    mutating func recordOther(nanos: UInt64) {
        var v = nanos
        if v > 60_000_000_000 { v = 60_000_000_000; clamped += 1 }
        let kept = interval.keptCount
        if kept < IntervalSamples.capacity {
            _interval.record(v)
            if kept + 1 - flushed >= Self.batch { flush() }
        } else {
            // The reservoir may replace a kept sample: everything kept is recorded first.
            if flushed < kept { flush() }
            _ = histogram.record(v)
            _interval.record(v)
        }
    }

    /// Records the interval's samples not yet in the histogram.
    public mutating func flush() {
        let kept = interval   // shares the samples; the closure below writes only the histogram
        kept.forEachKept(from: flushed) { _ = histogram.record($0) }
        flushed = kept.keptCount
    }

    /// Closes the current interval: appends a series point and resets it.
    /// - Parameters:
    ///   - t: seconds since the measured phase started.
    ///   - lostSoFar: the reader's cumulative loss, so the point carries the loss of this interval.
    /// - Returns: the interval's summary.
    ///   - scheduling: how the process was scheduled over the interval, when known.
    @discardableResult
    public mutating func roll(t: Double, lostSoFar: UInt64, scheduling: SchedulingDelta? = nil) -> LatencySummary {
        flush()
        let s = interval.summary()
        series.append(SeriesPoint(t: t, count: s.count, p50Us: s.p50Us, p99Us: s.p99Us, maxUs: s.maxUs,
                                  lost: lostSoFar &- lostAtLastRoll, scheduling: scheduling))
        lostAtLastRoll = lostSoFar
        _interval.reset()
        flushed = 0
        return s
    }

    /// Forgets everything recorded so far (the end of warm-up).
    ///
    /// An empty histogram is left as it is, and a used one is replaced, not
    /// cleared: the histogram's own `reset()` is generic code that is not
    /// specialised here (a witness call per counter, and a protocol
    /// conformance lookup on its first call), about 0.6 ms of CPU per
    /// process as sampled. At START a hundred readers doing that at once
    /// stalled fan-out for tens of milliseconds, although none of them had
    /// recorded anything yet.
    public mutating func reset() {
        if histogram.totalCount > 0 { histogram = LatencyHistogram.latency() }
        _interval.reset()
        flushed = 0
        series.removeAll()
        lostAtLastRoll = 0
        clamped = 0
    }
}
