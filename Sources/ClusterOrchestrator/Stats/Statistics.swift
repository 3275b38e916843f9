import ClusterCore
import Foundation

/// Small, exact statistics for sweeps and comparisons: order statistics,
/// binomial bounds and a seeded bootstrap. Nothing here reads a clock or
/// the environment: the same input gives the same output.
enum Stats {
    /// The median; NaN for no values.
    static func median(_ values: [Double]) -> Double {
        quantile(values, 0.5)
    }

    /// The `q` quantile with linear interpolation between order statistics (type 7); NaN for no values.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let s = values.sorted()
        return quantile(sorted: s, q)
    }

    static func quantile(sorted s: [Double], _ q: Double) -> Double {
        guard !s.isEmpty else { return .nan }
        let h = (Double(s.count) - 1) * min(1, max(0, q))
        let lo = Int(h.rounded(.down)), hi = Int(h.rounded(.up))
        if lo == hi || s[hi] == s[lo] { return s[lo] }
        if s[lo].isInfinite || s[hi].isInfinite { return h - Double(lo) < 0.5 ? s[lo] : s[hi] }
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    // MARK: Binomial

    /// P(X ≥ k) for X ~ Binomial(n, p).
    static func binomialTailAtLeast(_ k: Int, _ n: Int, _ p: Double) -> Double {
        guard k > 0 else { return 1 }
        guard k <= n else { return 0 }
        var total = 0.0
        for i in k...n { total += exp(logChoose(n, i) + Double(i) * log(p) + Double(n - i) * log1p(-p)) }
        return min(1, total)
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n) + 1) - lgamma(Double(k) + 1) - lgamma(Double(n - k) + 1)
    }

    /// The one-sided Clopper–Pearson lower bound of a success probability
    /// after `k` successes in `n` trials: the p at which P(X ≥ k) = 1 − level.
    static func clopperPearsonLower(successes k: Int, trials n: Int, level: Double = 0.95) -> Double {
        guard n > 0, k > 0 else { return 0 }
        let alpha = 1 - level
        var lo = 0.0, hi = 1.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if binomialTailAtLeast(k, n, mid) < alpha { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// The one-sided Clopper–Pearson upper bound: the p at which P(X ≤ k) = 1 − level.
    static func clopperPearsonUpper(successes k: Int, trials n: Int, level: Double = 0.95) -> Double {
        guard n > 0 else { return 1 }
        guard k < n else { return 1 }
        return 1 - clopperPearsonLower(successes: n - k, trials: n, level: level)
    }
}

/// The bootstrap behind `orchestrator compare`: a confidence interval of the
/// change of a statistic (median or mean) from side A to side B.
///
/// Each side is a set of groups, one per run: a run's per-second series (in
/// time order) or its per-reader figures. One bootstrap replicate resamples
/// each side the way it was measured: the runs with replacement when there
/// are several (so the spread between runs widens the interval, as it
/// should), then, within each run, a series in moving blocks of about
/// ∛n seconds (neighbouring seconds are alike; resampling them one by one
/// would make the interval too narrow) or per-reader figures one by one.
struct Bootstrap {
    enum Statistic: String, Sendable, Codable {
        case median, mean
    }

    /// The samples of one side.
    struct Side {
        var groups: [[Double]]
        /// Series in time order: resampled in blocks.
        var ordered: Bool

        var count: Int { groups.reduce(0) { $0 + $1.count } }
        var pooled: [Double] { groups.flatMap { $0 } }
    }

    struct Interval: Sendable, Hashable {
        /// The statistic of each side, over all its samples.
        var a: Double
        var b: Double
        /// (b − a) / |a|: 0.25 is 25 % higher; ±infinity when a is 0 and b is not.
        var relative: Double
        var relativeLow: Double
        var relativeHigh: Double
        /// b − a.
        var absoluteLow: Double
        var absoluteHigh: Double
    }

    var statistic: Statistic
    var level = 0.95
    var replicates = 2_000

    /// The interval of the change from `a` to `b`, or nil when either side has no samples.
    func interval(_ a: Side, _ b: Side, rng: inout SeededRandom) -> Interval? {
        guard a.count > 0, b.count > 0 else { return nil }
        let sa = stat(a.pooled), sb = stat(b.pooled)
        var rel: [Double] = [], abs: [Double] = []
        rel.reserveCapacity(replicates)
        abs.reserveCapacity(replicates)
        for _ in 0..<replicates {
            let ra = stat(resample(a, &rng)), rb = stat(resample(b, &rng))
            rel.append(Bootstrap.relative(ra, rb))
            abs.append(rb - ra)
        }
        rel.sort()
        abs.sort()
        let tail = (1 - level) / 2
        return Interval(a: sa, b: sb, relative: Bootstrap.relative(sa, sb),
                        relativeLow: Stats.quantile(sorted: rel, tail), relativeHigh: Stats.quantile(sorted: rel, 1 - tail),
                        absoluteLow: Stats.quantile(sorted: abs, tail), absoluteHigh: Stats.quantile(sorted: abs, 1 - tail))
    }

    /// The block of a moving-block bootstrap of `n` values: about ∛n (2 for 10 s, 3 for 20 s, 4 for a minute).
    /// Longer blocks leave too few of them for a median to vary smoothly.
    static func blockLength(_ n: Int) -> Int {
        max(1, Int(Foundation.pow(Double(n), 1.0 / 3).rounded()))
    }

    static func relative(_ a: Double, _ b: Double) -> Double {
        if a == b { return 0 }
        if a == 0 { return b > 0 ? .infinity : -.infinity }
        return (b - a) / Swift.abs(a)
    }

    private func stat(_ v: [Double]) -> Double {
        switch statistic {
        case .median: Stats.median(v)
        case .mean: Stats.mean(v)
        }
    }

    /// One replicate of a side.
    private func resample(_ side: Side, _ rng: inout SeededRandom) -> [Double] {
        let groups = side.groups.filter { !$0.isEmpty }
        var out: [Double] = []
        out.reserveCapacity(side.count)
        for _ in 0..<groups.count {
            let g = groups.count == 1 ? groups[0] : groups[Int(rng.next() % UInt64(groups.count))]
            if side.ordered {
                let n = g.count
                let block = Bootstrap.blockLength(n)
                var taken = 0
                while taken < n {
                    let start = Int(rng.next() % UInt64(n - block + 1))
                    for i in start..<min(start + block, n) where taken < n {
                        out.append(g[i])
                        taken += 1
                    }
                }
            } else {
                for _ in 0..<g.count { out.append(g[Int(rng.next() % UInt64(g.count))]) }
            }
        }
        return out
    }
}
