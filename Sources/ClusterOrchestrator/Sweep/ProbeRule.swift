/// When a probe of the knee search passes: a staged "k of n" rule.
///
/// Written `3/3,5/6`: run 3 repeats and pass when all 3 met the SLOs; when
/// they are mixed, run on to 6 and pass when at least 5 did. The probe fails
/// as soon as the last stage's count can no longer be reached (two failures
/// under `3/3,5/6`), so a value far above the knee costs two runs, one far
/// below costs three, and only a value near the knee, where the outcome is
/// mixed, costs six. `4/5` is a single stage, decided as soon as it is
/// certain (four passes, or a second failure); `1/1` trusts a single run.
///
/// The rule's operating characteristic, the chance that a probe passes when
/// each run meets the SLOs with probability p, is ``passProbability(_:)``;
/// docs/capacity.md tabulates it for the default.
public struct ProbeRule: Sendable, Hashable, CustomStringConvertible {
    public struct Stage: Sendable, Hashable {
        /// Runs done by the end of the stage.
        public var runs: Int
        /// Runs that must have met the SLOs by then for the probe to pass.
        public var passesNeeded: Int

        public init(runs: Int, passesNeeded: Int) {
            self.runs = runs
            self.passesNeeded = passesNeeded
        }
    }

    /// The most runs a rule may ask for at one value.
    public static let maxRuns = 50
    /// `3/3,5/6`.
    public static let standard = ProbeRule(stages: [Stage(runs: 3, passesNeeded: 3), Stage(runs: 6, passesNeeded: 5)])

    public let stages: [Stage]

    public init(stages: [Stage]) {
        precondition(!stages.isEmpty, "a probe rule has a stage")
        self.stages = stages
    }

    /// Parses `K/N[,K/N…]`.
    /// - Throws: ``SweepError`` (`badOption`) saying which stage is wrong and why.
    public init(parsing text: String, option: String = "--probe") throws(SweepError) {
        func fail(_ m: String) -> SweepError { SweepError(.badOption, "\(option) \(text): \(m)") }
        var stages: [Stage] = []
        for (i, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let kn = part.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
            guard kn.count == 2, let k = Int(kn[0]), let n = Int(kn[1]) else {
                throw fail("stage \(i + 1) \"\(part)\" is not K/N, expected passes needed and runs, e.g. 3/3,5/6 or 4/5")
            }
            guard n >= 1, n <= ProbeRule.maxRuns else {
                throw fail("stage \(i + 1) runs \(n), expected 1 ... \(ProbeRule.maxRuns) runs")
            }
            guard k >= 1, k <= n else {
                throw fail("stage \(i + 1) needs \(k) passes of \(n) runs, expected 1 ... \(n)")
            }
            if let last = stages.last {
                guard n > last.runs else {
                    throw fail("stage \(i + 1) has \(n) runs, expected more than the \(last.runs) of the stage before")
                }
                guard k >= last.passesNeeded, n - k >= last.runs - last.passesNeeded else {
                    throw fail("stage \(i + 1) (\(k)/\(n)) is easier than the stage before (\(last.passesNeeded)/\(last.runs)), expected each stage to need at least as many passes and allow at least as many failures")
                }
            }
            stages.append(Stage(runs: n, passesNeeded: k))
        }
        self.init(stages: stages)
    }

    public var description: String {
        stages.map { "\($0.passesNeeded)/\($0.runs)" }.joined(separator: ",")
    }

    /// The most runs one probe takes.
    public var maxRuns: Int { stages.last!.runs }

    public enum Decision: String, Sendable, Hashable, Codable {
        case pass, fail
        /// Undecided: run another repeat.
        case more
    }

    /// The decision after `runs` runs of which `passes` met the SLOs.
    public func decide(passes: Int, runs: Int) -> Decision {
        precondition(passes >= 0 && passes <= runs, "passes within runs")
        let last = stages.last!
        if passes + max(0, last.runs - runs) < last.passesNeeded { return .fail }
        // The stage under way passes once its count is reached, even before its last run.
        if let stage = stages.first(where: { $0.runs >= runs }), passes >= stage.passesNeeded { return .pass }
        return runs >= last.runs ? .fail : .more
    }

    /// The probability that a probe passes when each run meets the SLOs
    /// independently with probability `p` (the rule's operating characteristic).
    public func passProbability(_ p: Double) -> Double {
        walk(p).pass
    }

    /// The expected number of runs of one probe at `p`.
    public func expectedRuns(_ p: Double) -> Double {
        walk(p).runs
    }

    /// Walks every sequence of outcomes, with its probability, to its decision.
    private func walk(_ p: Double) -> (pass: Double, runs: Double) {
        // mass[k]: probability of being undecided with k passes after `runs` runs.
        var mass = [1.0]
        var pass = 0.0, expected = 0.0
        for runs in 1...maxRuns {
            var next = [Double](repeating: 0, count: runs + 1)
            for (k, m) in mass.enumerated() where m > 0 {
                next[k + 1] += m * p
                next[k] += m * (1 - p)
            }
            for k in 0...runs where next[k] > 0 {
                switch decide(passes: k, runs: runs) {
                case .pass: pass += next[k]; expected += next[k] * Double(runs); next[k] = 0
                case .fail: expected += next[k] * Double(runs); next[k] = 0
                case .more: break
                }
            }
            mass = next
        }
        return (pass, expected)
    }
}
