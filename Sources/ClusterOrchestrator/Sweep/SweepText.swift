import Foundation

/// The sweep's terminal table (also `summary.txt`): one row per point, in
/// the order the points were run, with the median of each figure over the
/// point's runs.
struct SweepText {
    let report: SweepReport

    init(_ report: SweepReport) {
        self.report = report
    }

    static func outcomeWord(_ o: SweepRunOutcome) -> String {
        switch o {
        case .passed: "PASS"
        case .sloViolated: "FAIL"
        case .failed: "RUN FAILED"
        case .interrupted: "INTERRUPTED"
        }
    }

    static func resultWord(_ r: SweepPointResult) -> String {
        switch r {
        case .pass: "PASS"
        case .fail: "FAIL"
        case .invalid: "INVALID"
        case .partial: "PARTIAL"
        }
    }

    /// The paths shown as columns: the varied parameters, then the searched one.
    var paths: [String] {
        report.parameters.map(\.path) + (report.findMax.map { [$0.path] } ?? [])
    }

    func render() -> String {
        var out = header()
        out += "\n" + table()
        if !report.knees.isEmpty {
            out += "\n" + report.knees.map(\.detail).joined(separator: "\n") + "\n"
        }
        if report.partial {
            out += "\nPARTIAL: \(report.interruption ?? "the sweep did not finish"); the points above are those done.\n"
        }
        out += "\n" + report.conclusion.split(separator: "\n").map { "result: \($0)\n" }.joined()
        out += "sweep directory: \(report.directory)\n"
        return out
    }

    private func header() -> String {
        let r = report
        var what: String
        if let f = r.findMax {
            what = "knee search on \(f.path)" + (r.parameters.isEmpty ? "" : " for each \(r.parameters[0].path)")
        } else {
            what = r.parameters.map(\.path).joined(separator: " × ") + ", \(r.repeats) run\(r.repeats == 1 ? "" : "s") per point"
        }
        var lines = ["ClusterSim sweep \(r.name): \(what)"]
        var facts = "  topology \(r.topologyFile)"
        if !r.settings.isEmpty { facts += "   settings \(r.settings.map(\.text).joined(separator: " "))" }
        lines.append(facts)
        if let f = r.findMax {
            let oc = f.ruleCharacteristic.filter { [0.95, 0.8, 0.5].contains($0.p) }
                .map { "\(Int(($0.p * 100).rounded())) % → \(Int(($0.passProbability * 100).rounded())) %" }.joined(separator: ", ")
            lines.append("  start \(SweepParameter.format(f.start, whole: f.integral))   limits \(SweepParameter.format(f.lowerLimit, whole: f.integral)) ... \(SweepParameter.format(f.upperLimit, whole: f.integral))   tolerance \(f.tolerance)   probe rule \(f.rule) (a value whose runs pass \(oc) of the time)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func table() -> String {
        var columns: [TextTable.Column] = [.init("point", .left)]
        columns += paths.map { TextTable.Column($0) }
        columns += [.init("runs"), .init("passed"), .init("p50"), .init("p99"), .init("p99.9"), .init("max"),
                    .init("lost"), .init("skipped"), .init("delivered"), .init("writer CPU %"), .init("reader CPU %"),
                    .init("writer RSS MB"), .init("reader RSS MB"), .init("result", .left)]
        var t = TextTable(columns)
        for p in report.points {
            var row = [String(format: "p%02d", p.index)]
            row += paths.map { p.value(of: $0)?.value ?? "-" }
            let counted = p.countedRuns
            row += ["\(counted)", "\(p.passedRuns)/\(counted)"]
            if let f = p.figures {
                let m = f.latencyCount > 0
                row += [Fmt.latency(us: f.p50Us, measured: m), Fmt.latency(us: f.p99Us, measured: m),
                        Fmt.latency(us: f.p999Us, measured: m), Fmt.latency(us: f.maxUs, measured: m),
                        Fmt.count(f.lostFastReaders), Fmt.count(f.skipped), Fmt.count(f.delivered),
                        Fmt.percent(f.writerCpuPercent), Fmt.percent(f.readerCpuPercent),
                        Fmt.mb(f.writerPeakRssMB), Fmt.mb(f.readerPeakRssMB)]
            } else {
                row += Array(repeating: "-", count: 11)
            }
            row.append(resultCell(p))
            t.add(row)
        }
        return t.render()
    }

    private func resultCell(_ p: SweepPoint) -> String {
        var word = SweepText.resultWord(p.result)
        if p.result == .fail {
            var failing: [String] = []
            for r in p.runs {
                for s in r.slo where !s.pass && !failing.contains(s.name) { failing.append(s.name) }
                if r.outcome == .failed, !failing.contains("run failed") { failing.append("run failed") }
            }
            if !failing.isEmpty { word += " (\(Fmt.truncate(failing.joined(separator: ", "), 48)))" }
        } else if p.result == .invalid, let d = p.detail {
            word += " (\(Fmt.truncate(d, 60)))"
        }
        return word
    }
}

/// Renders a sweep's `sweep.json` model as the terminal table and the HTML page.
public enum SweepRenderer {
    /// The table printed at the end of a sweep (also `summary.txt`).
    public static func text(_ r: SweepReport) -> String { SweepText(r).render() }

    /// `sweep.html`: self-contained, no external references.
    public static func html(_ r: SweepReport) -> String { SweepHTML(r).render() }

    /// Writes `sweep.html` and `summary.txt` of a sweep directory again from its `sweep.json`.
    /// - Returns: the sweep's report, or nil when `directory` holds no sweep.json.
    /// - Throws: when sweep.json cannot be read or the files cannot be written.
    public static func rewrite(directory: String) throws -> SweepReport? {
        let path = directory + "/sweep.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let r = try SweepReport.load(path: path)
        try Data(text(r).utf8).write(to: URL(fileURLWithPath: directory + "/summary.txt"))
        try Data(html(r).utf8).write(to: URL(fileURLWithPath: directory + "/sweep.html"))
        return r
    }
}
