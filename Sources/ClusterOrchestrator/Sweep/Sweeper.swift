import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a sweep: the grid of points (every point once per round, `repeats`
/// rounds) or the knee search, one run at a time through a ``SweepRunner``,
/// and writes `sweep.json` after every run, then `sweep.html` and
/// `summary.txt`.
///
/// Grid points are run in rounds (every point once, then every point again)
/// so that a machine that drifts during the sweep spreads its drift over
/// all points instead of biasing the last ones.
public final class Sweeper {
    public let plan: SweepPlan
    public let directory: String
    let runner: any SweepRunner
    let progress: SweepProgress

    private var points: [SweepPoint] = []
    /// Each point's validated topology (nil for an invalid point).
    private var topologies: [Topology?] = []
    private var knees: [KneeReport] = []
    private var runSeconds: [Double] = []
    private let startedWall = SystemClock.wallNanos()
    private var plannedRuns = 0
    private var approximate = false

    /// Creates the sweep directory, `<out>/<topology name>-<UTC time>`.
    /// - Throws: ``SweepError`` (`output`) when it cannot be created.
    public init(plan: SweepPlan, runner: any SweepRunner, outDirectory: String, quiet: Bool) throws(SweepError) {
        self.plan = plan
        self.runner = runner
        let t = plan.topology
        progress = SweepProgress(quiet: quiet, expectedRunSeconds: t.warmup.seconds + t.duration.seconds + 4)
        let base = (outDirectory as NSString).appendingPathComponent("\(t.name)-\(Sweeper.timestamp())")
        var dir = base
        var n = 2
        while FileManager.default.fileExists(atPath: dir) {
            dir = "\(base)-\(n)"
            n += 1
        }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw SweepError(.output, "\(dir): cannot create the sweep directory (\(error.localizedDescription))")
        }
        directory = dir
        // The base topology with the settings applied: what `compare` checks two sweeps' settings on.
        do {
            try plan.base.jsonData().write(to: URL(fileURLWithPath: dir + "/topology.json"))
        } catch {
            throw SweepError(.output, "\(dir)/topology.json: cannot be written (\(error.localizedDescription))")
        }
    }

    /// Runs the sweep to its end or until a stop is asked for, and writes its files.
    /// - Returns: the report, whose `exitStatus` the command exits with.
    public func run() -> SweepReport {
        switch plan.mode {
        case .grid(let repeats): runGrid(repeats: repeats)
        case .findMax(let f): runSearches(f)
        }
        progress.finish()
        var report = makeReport(final: true)
        do {
            try write(report)
        } catch {
            FileHandle.standardError.write(Data("orchestrator: cannot write the sweep's files in \(directory): \(error)\n".utf8))
            report.exitStatus = 2
        }
        return report
    }

    // MARK: Grid

    private func runGrid(repeats: Int) {
        let assignments = plan.gridPoints
        plannedRuns = assignments.count * repeats
        let indexes = assignments.map { makePoint($0) }
        rounds: for r in 1...repeats {
            for i in indexes where points[i].result != .invalid {
                guard runner.stopRequested == nil else { break rounds }
                let run = runOnce(point: i, repeatIndex: r)
                if run.outcome == .interrupted { break rounds }
            }
        }
        for i in indexes where points[i].result != .invalid {
            let p = points[i]
            let counted = p.runs.filter(\.counted)
            if counted.contains(where: { $0.outcome != .passed }) {
                points[i].result = .fail
            } else if counted.count == repeats {
                points[i].result = .pass
            } else {
                points[i].result = .partial
            }
        }
    }

    // MARK: Knee search

    private func runSearches(_ f: SweepPlan.FindMax) {
        let fixedSets: [[(path: TopologyPath, value: TopologyValue)]] = plan.parameters.isEmpty
            ? [[]] : plan.parameters[0].values.map { [(plan.parameters[0].path, $0)] }
        approximate = true
        for (s, fixed) in fixedSets.enumerated() {
            var search = KneeSearch(start: f.start, lowerLimit: f.lowerLimit, upperLimit: f.upperLimit, tolerance: f.tolerance,
                                    integral: f.integral)
            var probes: [Int] = []
            var interrupted = false
            searching: while true {
                plannedRuns = runs + estimateRemainingRuns(search, f, searchesLeft: fixedSets.count - s - 1)
                switch search.next() {
                case .done(let outcome):
                    knees.append(kneeReport(outcome, search: search, fixed: fixed, probes: probes, f: f))
                    break searching
                case .probe(let v):
                    if runner.stopRequested != nil { interrupted = true; break searching }
                    let value = TopologyValue.number(SweepParameter.format(v, whole: f.integral))
                    let i = makePoint(fixed + [(f.path, value)])
                    probes.append(i)
                    if points[i].result == .invalid {
                        progress.note("\(points[i].label): \(points[i].detail ?? "invalid"); taken as failing")
                        search.record(v, passed: false)
                        continue
                    }
                    var decision = ProbeRule.Decision.more
                    var passes = 0, made = 0
                    while decision == .more {
                        let run = runOnce(point: i, repeatIndex: made + 1)
                        if run.outcome == .interrupted { break }
                        made += 1
                        if run.outcome == .passed { passes += 1 }
                        decision = f.rule.decide(passes: passes, runs: made)
                        plannedRuns = runs + (decision == .more ? 1 : 0) + estimateRemainingRuns(search, f, searchesLeft: fixedSets.count - s - 1)
                    }
                    if decision == .more { interrupted = true; break searching }
                    points[i].result = decision == .pass ? .pass : .fail
                    progress.note("  probe \(points[i].label): \(decision == .pass ? "PASS" : "FAIL") (\(passes) of \(made) runs met the SLOs, rule \(f.rule))")
                    search.record(v, passed: decision == .pass)
                }
            }
            if interrupted {
                knees.append(KneeReport(fixed: fixed.map { SweepAssignment($0.path, $0.value) }, outcome: .interrupted,
                                        knee: search.passed, failedAbove: search.failed, kneePassed: nil, kneeRuns: nil,
                                        kneePassProbabilityLower95: nil, failedPassed: nil, failedRuns: nil,
                                        failedPassProbabilityUpper95: nil, contradictions: [], probes: probes,
                                        detail: "interrupted before the search ended" + (search.passed.map { "; highest value passed so far \(SweepParameter.format($0))" } ?? "")))
                return
            }
        }
    }

    /// Runs made so far.
    private var runs: Int { points.reduce(0) { $0 + $1.runs.filter(\.counted).count } }

    /// A rough count of the runs the search still needs: the probes left to
    /// bracket and bisect, at the runs the rule takes at an even chance.
    private func estimateRemainingRuns(_ s: KneeSearch, _ f: SweepPlan.FindMax, searchesLeft: Int) -> Int {
        let perProbe = f.rule.expectedRuns(0.5)
        func bisections(_ lo: Double, _ hi: Double) -> Double {
            let width = max(f.tolerance.width(at: lo), f.integral ? 1 : 0)
            return hi - lo <= width ? 0 : max(1, (log2((hi - lo) / max(width, 1e-9))).rounded(.up))
        }
        let fresh = 2 + bisections(f.start, f.start * 2)
        var probes: Double
        switch (s.passed, s.failed) {
        case (nil, nil): probes = fresh
        case (let lo?, nil): probes = 1 + bisections(lo, lo * 2)
        case (nil, let hi?): probes = 1 + bisections(hi / 2, hi)
        case (let lo?, let hi?): probes = bisections(lo, hi)
        }
        probes += Double(searchesLeft) * fresh
        return Int((probes * perProbe).rounded(.up))
    }

    private func kneeReport(_ outcome: KneeSearch.Outcome, search: KneeSearch, fixed: [(path: TopologyPath, value: TopologyValue)],
                            probes: [Int], f: SweepPlan.FindMax) -> KneeReport {
        func point(_ v: Double?) -> SweepPoint? {
            guard let v else { return nil }
            return probes.map { points[$0] }.first { $0.value(of: f.path.description)?.number == v }
        }
        let fmt = { (v: Double) in SweepParameter.format(v, whole: f.integral) }
        let kneePoint = point(search.passed), failPoint = point(search.failed)
        let kp = kneePoint?.passedRuns, kn = kneePoint?.countedRuns
        let fp = failPoint?.passedRuns, fn = failPoint?.countedRuns
        let lower = kp.flatMap { k in kn.map { Stats.clopperPearsonLower(successes: k, trials: $0) } }
        let upper = fp.flatMap { k in fn.flatMap { $0 > 0 ? Stats.clopperPearsonUpper(successes: k, trials: $0) : nil } }
        let kind: KneeReport.Outcome
        var detail: String
        let at = fixed.isEmpty ? "" : " at \(fixed.map { $0.value.assignment($0.path) }.joined(separator: " "))"
        switch outcome {
        case .found(let knee, let above):
            kind = .found
            detail = "knee\(at): \(f.path) = \(fmt(knee))"
            if let kp, let kn { detail += " (\(kp) of \(kn) runs met the SLOs; pass probability ≥ \(Fmt.fixed(lower ?? 0, 2)) at 95 %)" }
            if let fp, let fn, fn > 0 {
                detail += "; \(fmt(above)) failed (\(fp) of \(fn); ≤ \(Fmt.fixed(upper ?? 1, 2)) at 95 %)"
            } else {
                detail += "; \(fmt(above)) \(failPoint?.detail.map { "makes an invalid topology: \($0)" } ?? "failed")"
            }
            detail += "; tolerance \(f.tolerance)"
        case .nonePassed(let lowest):
            kind = .nonePassed
            detail = "no knee\(at): every value failed, down to \(f.path) = \(fmt(lowest))"
        case .noFailure(let highest):
            kind = .noFailure
            detail = "no knee\(at): every value passed, up to \(f.path) = \(fmt(highest)) (the limit; raise it with --max)"
        }
        if !search.contradictions.isEmpty {
            detail += "; \(search.contradictions.count) result(s) out of order (a higher value passed than one that failed): noise, or SLOs that do not degrade steadily"
        }
        return KneeReport(fixed: fixed.map { SweepAssignment($0.path, $0.value) }, outcome: kind, knee: search.passed,
                          failedAbove: search.failed, kneePassed: kp, kneeRuns: kn, kneePassProbabilityLower95: lower,
                          failedPassed: fp, failedRuns: fn, failedPassProbabilityUpper95: upper,
                          contradictions: search.contradictions.map { [$0.passed, $0.failed] }, probes: probes.map { points[$0].index },
                          detail: detail)
    }

    // MARK: Points and runs

    /// Adds a point (writing its topology.json), or marks it invalid when its values make an invalid topology.
    /// - Returns: its position in `points`.
    private func makePoint(_ assignments: [(path: TopologyPath, value: TopologyValue)]) -> Int {
        let index = points.count + 1
        let name = String(format: "p%02d", index) + assignments.map { "_" + Sweeper.slug("\($0.path)-\($0.value)") }.joined()
        var point = SweepPoint(index: index, values: assignments.map { SweepAssignment($0.path, $0.value) }, directory: name)
        var topology: Topology?
        do {
            let (json, t) = try plan.variant(assignments)
            topology = t
            try FileManager.default.createDirectory(atPath: directory + "/" + name, withIntermediateDirectories: true)
            try json.write(to: URL(fileURLWithPath: directory + "/" + name + "/topology.json"))
        } catch let e as TopologyError {
            point.result = .invalid
            point.detail = e.issues.map(\.description).joined(separator: "; ")
        } catch {
            point.result = .invalid
            point.detail = "cannot write the point's topology: \(error.localizedDescription)"
        }
        points.append(point)
        topologies.append(point.result == .invalid ? nil : topology)
        return points.count - 1
    }

    /// Runs one repeat of a point and records it.
    private func runOnce(point i: Int, repeatIndex: Int) -> SweepRun {
        let p = points[i]
        let pointDir = directory + "/" + p.directory
        guard let topology = topologies[i] else { preconditionFailure("only valid points are run") }
        let what = if case .grid(let repeats) = plan.mode {
            "point \(p.index) of \(points.count) (\(p.label)), repeat \(repeatIndex) of \(repeats)"
        } else {
            "probe \(p.index) (\(p.label)), repeat \(repeatIndex)"
        }
        progress.begin(what, done: runs, total: plannedRuns, approximate: approximate)
        let start = SystemClock.monotonicNanos()
        let request = SweepRunRequest(topologyFile: pointDir + "/topology.json", topology: topology,
                                      runParent: pointDir + "/r\(repeatIndex)", point: p.index, repeatIndex: repeatIndex)
        let result = runner.run(request) { progress.tick() }
        let seconds = Double(SystemClock.monotonicNanos() - start) / 1e9
        var outcome = result.outcome, detail = result.detail
        if outcome == .passed, let r = result.report, r.totals.fastReaders > 0, r.latencyOverall.count == 0 {
            // Its SLOs held only because nothing was measured (every reader stopped before its final dump).
            outcome = .failed
            detail = "no fast reader reported a latency sample: the SLOs could not be judged"
        }
        let run = SweepRun(repeatIndex: repeatIndex, runDirectory: result.runDirectory.map(relative), exitStatus: result.exitStatus,
                           outcome: outcome, seconds: seconds, figures: result.report.map(RunFigures.init),
                           slo: result.report?.slo ?? [], detail: detail)
        points[i].runs.append(run)
        points[i].figures = RunFigures.median(points[i].runs.filter(\.counted).compactMap(\.figures))
        if run.counted { runSeconds.append(seconds) }
        progress.end(runLine(points[i], run), meanSeconds: runSeconds.isEmpty ? seconds : Stats.mean(runSeconds))
        try? write(makeReport(final: false))
        return run
    }

    private func runLine(_ p: SweepPoint, _ r: SweepRun) -> String {
        var s = "  \(p.label) #\(r.repeatIndex): \(SweepText.outcomeWord(r.outcome))"
        if let f = r.figures, r.outcome != .failed {
            s += "   p50 \(Fmt.latency(us: f.p50Us, measured: f.latencyCount > 0))  p99 \(Fmt.latency(us: f.p99Us, measured: f.latencyCount > 0))  lost \(Fmt.count(f.lostFastReaders))"
        }
        if let d = r.detail { s += "   (\(Fmt.truncate(d, 100)))" }
        return s + "   \(Fmt.fixed(r.seconds, 1)) s"
    }

    /// `path` relative to the sweep directory.
    private func relative(_ path: String) -> String {
        path.hasPrefix(directory + "/") ? String(path.dropFirst(directory.count + 1)) : path
    }

    // MARK: Report

    private func makeReport(final: Bool) -> SweepReport {
        let interruption = runner.stopRequested
        let partial = !final || interruption != nil
        var settings = plan.settings.map { SweepAssignment($0.path, $0.value) }
        settings.sort { $0.path < $1.path }
        var findMax: FindMaxSettings?
        var repeats = 1
        switch plan.mode {
        case .grid(let r): repeats = r
        case .findMax(let f):
            findMax = FindMaxSettings(
                path: f.path.description, start: f.start, lowerLimit: f.lowerLimit, upperLimit: f.upperLimit,
                tolerance: f.tolerance.description, integral: f.integral, rule: f.rule.description,
                ruleCharacteristic: [0.99, 0.95, 0.9, 0.8, 0.5, 0.2].map {
                    .init(p: $0, passProbability: f.rule.passProbability($0), expectedRuns: f.rule.expectedRuns($0))
                })
        }
        let (status, conclusion) = verdict(interruption: interruption, final: final)
        return SweepReport(
            name: plan.topology.name, topologyFile: plan.topologyFile, directory: directory, startedWallNs: startedWall,
            endedWallNs: SystemClock.wallNanos(), mode: findMax == nil ? .grid : .findMax,
            parameters: plan.parameters.map { SweepParameterReport(path: $0.path.description, values: $0.values.map(\.description)) },
            settings: settings, repeats: repeats, findMax: findMax, knees: knees, points: points, partial: partial,
            interruption: interruption, exitStatus: status, conclusion: conclusion)
    }

    /// The exit status and the one-line conclusion.
    private func verdict(interruption: String?, final: Bool) -> (Int32, String) {
        let valid = points.filter { $0.result != .invalid }
        let counted = valid.flatMap(\.runs).filter(\.counted)
        if let interruption {
            let done = valid.filter { $0.result == .pass || $0.result == .fail }.count
            return (2, "\(interruption): partial sweep, \(done) of \(valid.count) points decided, \(counted.count) runs done")
        }
        if !final { return (2, "in progress") }
        if !counted.isEmpty, counted.allSatisfy({ $0.outcome == .failed }) {
            return (2, "every run failed (see run.log in the point directories)")
        }
        if case .findMax = plan.mode {
            let ok = knees.contains { $0.outcome == .found || $0.outcome == .noFailure }
            return (ok ? 0 : 1, knees.map(headline).joined(separator: "\n"))
        }
        let passed = valid.filter { $0.result == .pass }.count
        let line = "\(passed) of \(valid.count) points met every SLO in every run"
        return (passed > 0 ? 0 : 1, line)
    }

    /// One line per search: "knee at writer.rate = 7812 (8125 failed, tolerance 5%)".
    private func headline(_ k: KneeReport) -> String {
        guard case .findMax(let f) = plan.mode else { return k.detail }
        let fmt = { (v: Double) in SweepParameter.format(v, whole: f.integral) }
        let at = k.fixed.isEmpty ? "" : "\(k.fixed.map(\.text).joined(separator: " ")): "
        switch k.outcome {
        case .found:
            return "\(at)knee at \(f.path) = \(fmt(k.knee ?? 0)) (\(fmt(k.failedAbove ?? 0)) failed, tolerance \(f.tolerance))"
        case .nonePassed:
            return "\(at)no knee: every value failed, down to \(f.path) = \(fmt(k.failedAbove ?? f.lowerLimit))"
        case .noFailure:
            return "\(at)no knee: every value passed, up to \(f.path) = \(fmt(k.knee ?? f.upperLimit))"
        case .interrupted:
            return "\(at)interrupted"
        }
    }

    private func write(_ report: SweepReport) throws {
        try report.jsonData().write(to: URL(fileURLWithPath: directory + "/sweep.json"))
        try Data(SweepText(report).render().utf8).write(to: URL(fileURLWithPath: directory + "/summary.txt"))
        try Data(SweepHTML(report).render().utf8).write(to: URL(fileURLWithPath: directory + "/sweep.html"))
    }

    /// A directory name's part: `readers[0].count-10` → `readers0.count-10`.
    static func slug(_ s: String) -> String {
        String(s.filter { $0 != "[" && $0 != "]" }
            .map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "_" }.prefix(60))
    }

    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d%02d%02d-%02d%02d%02d", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec)
    }
}
