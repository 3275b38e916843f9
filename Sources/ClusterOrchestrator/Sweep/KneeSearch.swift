/// How close the knee search brackets the knee before it stops.
public enum Tolerance: Sendable, Hashable, CustomStringConvertible {
    /// A fraction of the highest passing value (`5%` is 0.05).
    case relative(Double)
    /// An absolute width in the parameter's unit.
    case absolute(Double)

    /// Parses `5%` or `500`.
    /// - Throws: ``SweepError`` (`badOption`).
    public init(parsing text: String, option: String = "--tolerance") throws(SweepError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        let fail = SweepError(.badOption, "\(option) \(text): expected a percentage such as 5% or an absolute width such as 500, above 0")
        if t.hasSuffix("%") {
            guard let v = Double(t.dropLast()), v.isFinite, v > 0, v < 100 else { throw fail }
            self = .relative(v / 100)
        } else {
            guard let v = Double(t), v.isFinite, v > 0 else { throw fail }
            self = .absolute(v)
        }
    }

    /// The largest gap between the passing and the failing value that counts as found, near `value`.
    public func width(at value: Double) -> Double {
        switch self {
        case .relative(let f): f * value
        case .absolute(let w): w
        }
    }

    public var description: String {
        switch self {
        case .relative(let f): "\(SweepParameter.format(f * 100))%"
        case .absolute(let w): SweepParameter.format(w)
        }
    }
}

/// The knee search: the highest value of a parameter at which the SLOs hold.
///
/// It probes the start value; while probes pass it doubles (up to the upper
/// limit), while they fail it halves (down to the lower limit), until one
/// value passes and a higher one fails; then it bisects between the two
/// until they are within the tolerance. It assumes that the SLOs hold less
/// often as the value grows, and keeps the highest passing value below the
/// lowest failing one whatever order results come in.
///
/// A value type with no I/O: ``next()`` says what to probe, the caller runs
/// the probe (as often as the ``ProbeRule`` asks) and reports it with
/// ``record(_:passed:)``.
public struct KneeSearch: Sendable {
    public enum Action: Sendable, Hashable {
        case probe(Double)
        case done(Outcome)
    }

    public enum Outcome: Sendable, Hashable {
        /// `knee` passed, `failedAbove` (within the tolerance of it) failed.
        case found(knee: Double, failedAbove: Double)
        /// Every value probed failed, down to the lower limit.
        case nonePassed(lowest: Double)
        /// Every value probed passed, up to the upper limit.
        case noFailure(highest: Double)
    }

    public let start: Double
    public let lowerLimit: Double
    public let upperLimit: Double
    public let tolerance: Tolerance
    /// Probe whole numbers only.
    public let integral: Bool

    /// The highest value that passed.
    public private(set) var passed: Double?
    /// The lowest value that failed.
    public private(set) var failed: Double?
    /// Results that contradict the assumption: a value that passed above one that failed.
    public private(set) var contradictions: [(passed: Double, failed: Double)] = []
    private var probed: Set<Double> = []
    private var results: [(value: Double, passed: Bool)] = []

    /// - Parameters:
    ///   - start: the first value probed, > 0.
    ///   - lowerLimit: the lowest value probed (halving stops there).
    ///   - upperLimit: the highest value probed (doubling stops there).
    ///   - tolerance: stop when the failing value is within this of the passing one.
    ///   - integral: probe whole numbers only (a count); the tolerance is then at least 1.
    public init(start: Double, lowerLimit: Double, upperLimit: Double, tolerance: Tolerance, integral: Bool) {
        precondition(start > 0 && lowerLimit > 0 && lowerLimit <= start && start <= upperLimit, "limits around a positive start")
        self.start = integral ? start.rounded() : start
        self.lowerLimit = lowerLimit
        self.upperLimit = upperLimit
        self.tolerance = tolerance
        self.integral = integral
    }

    /// What to do next.
    public func next() -> Action {
        switch (passed, failed) {
        case (nil, nil):
            return .probe(start)
        case (let lo?, nil):
            if lo >= upperLimit { return .done(.noFailure(highest: lo)) }
            return .probe(round(min(lo * 2, upperLimit), up: true))
        case (nil, let hi?):
            if hi <= lowerLimit { return .done(.nonePassed(lowest: hi)) }
            return .probe(round(max(hi / 2, lowerLimit), up: false))
        case (let lo?, let hi?):
            let width = max(tolerance.width(at: lo), integral ? 1 : 0)
            if hi - lo <= width { return .done(.found(knee: lo, failedAbove: hi)) }
            let mid = round((lo + hi) / 2, up: false)
            if mid <= lo || mid >= hi || probed.contains(mid) { return .done(.found(knee: lo, failedAbove: hi)) }
            return .probe(mid)
        }
    }

    /// Records a probe's result.
    public mutating func record(_ value: Double, passed ok: Bool) {
        probed.insert(value)
        results.append((value, ok))
        let hi = results.filter { !$0.passed }.map(\.value).min()
        failed = hi
        // The highest pass below the lowest failure: a failure is the stronger
        // evidence (a knee reported too low is the safe mistake).
        passed = results.filter { $0.passed && (hi == nil || $0.value < hi!) }.map(\.value).max()
        contradictions = hi.map { h in results.filter { $0.passed && $0.value >= h }.map { ($0.value, h) } } ?? []
    }

    private func round(_ v: Double, up: Bool) -> Double {
        guard integral else { return v }
        return up ? v.rounded(.up) : v.rounded(.down)
    }
}
