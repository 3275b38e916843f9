import Foundation

/// Builds `sweep.html`: one self-contained page (inline CSS and SVG) with
/// the figures against the varied parameter, one line per value of the
/// second parameter, the knee marked, and every run's dot and table row
/// linking to that run's `report.html`.
struct SweepHTML {
    let report: SweepReport

    init(_ report: SweepReport) {
        self.report = report
    }

    /// The parameter on the x axis: the searched one, or the first varied one.
    var xPath: String? { report.findMax?.path ?? report.parameters.first?.path }
    /// The parameter that makes one line per value.
    var linePath: String? {
        report.findMax != nil ? report.parameters.first?.path : (report.parameters.count > 1 ? report.parameters[1].path : nil)
    }

    var shown: [SweepPoint] { report.points.filter { $0.result != .invalid } }

    func render() -> String {
        var body = [header()]
        if !report.knees.isEmpty { body.append(kneeSection()) }
        body.append(PageKit.section("Latency", id: "latency", [
            chart("p50", "fan-out latency p50 (ms)", { $0.p50Us / 1000 }, limit: "p50 latency"),
            chart("p99", "fan-out latency p99 (ms)", { $0.p99Us / 1000 }, limit: "p99 latency"),
            chart("p999", "fan-out latency p99.9 (ms)", { $0.p999Us / 1000 }, limit: nil),
        ].joined(separator: "\n") + PageKit.note("Merged over the fast readers of each run. Lines join the medians of each point's runs; a dot is one run, filled when it met every SLO, hollow when it did not; click it for the run's report. Dashed red: the topology's SLO.")))
        body.append(PageKit.section("Loss", id: "loss", chart("loss", "messages lost by fast readers", { Double($0.lostFastReaders) }, limit: "loss, fast readers")))
        body.append(PageKit.section("CPU and memory against load", id: "resources", resourceCharts()))
        body.append(PageKit.section("Points", id: "points", pointTable()))
        body.append("<footer>Generated from sweep.json (schema \(report.schemaVersion)).</footer>")
        return PageKit.page(title: "ClusterSim sweep \(report.name): \(badge)", body: body)
    }

    var badge: String {
        if report.partial { return "PARTIAL" }
        return report.exitStatus == 0 ? "PASS" : "FAIL"
    }

    private func header() -> String {
        let r = report
        var facts: [(String, String)] = [
            ("topology", r.topologyFile), ("sweep directory", r.directory),
            ("started", r.startedWallNs > 0 ? PageKit.isoTime(ns: r.startedWallNs) : "-"),
            ("took", SweepProgress.clock(Double(r.endedWallNs &- r.startedWallNs) / 1e9)),
            ("mode", r.mode == .grid ? "grid, \(r.repeats) run\(r.repeats == 1 ? "" : "s") per point" : "knee search"),
        ]
        for p in r.parameters { facts.append(("varied", "\(p.path) = \(p.values.joined(separator: ", "))")) }
        if let f = r.findMax {
            facts.append(("searched", "\(f.path) from \(SweepParameter.format(f.start, whole: f.integral)), limits \(SweepParameter.format(f.lowerLimit, whole: f.integral)) ... \(SweepParameter.format(f.upperLimit, whole: f.integral))"))
            facts.append(("tolerance", f.tolerance))
            facts.append(("probe rule", f.rule))
        }
        if !r.settings.isEmpty { facts.append(("settings", r.settings.map(\.text).joined(separator: " "))) }
        facts.append(("runs", "\(r.points.reduce(0) { $0 + $1.countedRuns }) at \(shown.count) points"))
        let dl = facts.map { "<div><dt>\(esc($0.0))</dt><dd>\(esc($0.1))</dd></div>" }.joined()
        var html = """
            <header>
            <h1>ClusterSim sweep <span class="name">\(esc(r.name))</span> <span class="badge \(badge == "PASS" ? "pass" : badge == "FAIL" ? "fail" : "aborted")">\(badge)</span></h1>
            <p class="result">\(esc(r.conclusion).replacingOccurrences(of: "\n", with: "<br>"))</p>
            """
        if r.partial {
            html += "\n<p class=\"aborted\">PARTIAL: \(esc(r.interruption ?? "the sweep did not finish")). The points shown are those done.</p>"
        }
        return html + "\n<dl class=\"facts\">\(dl)</dl>\n</header>"
    }

    private func kneeSection() -> String {
        var html = "<ul>" + report.knees.map { "<li>\(esc($0.detail))</li>" }.joined() + "</ul>"
        if let f = report.findMax {
            let rows = f.ruleCharacteristic.map { c -> [PageKit.Cell] in
                [PageKit.Cell("\(Fmt.fixed(c.p * 100, 0)) %", c.p), PageKit.Cell("\(Fmt.fixed(c.passProbability * 100, 1)) %", c.passProbability),
                 PageKit.Cell(Fmt.fixed(c.expectedRuns, 1), c.expectedRuns)]
            }
            html += "<h3>Probe rule \(esc(f.rule))</h3>"
            html += PageKit.table("rule-table", [("runs meeting the SLOs at a value", true), ("probe passes", true), ("runs per probe (mean)", true)], rows)
            html += PageKit.note("A value passes when the rule's count of runs met every SLO. The table is the rule's operating characteristic: how often a value whose runs pass with the probability on the left is taken as passing. docs/capacity.md explains the rule.")
        }
        return PageKit.section("Knee", id: "knee", html)
    }

    // MARK: Charts

    /// The points grouped into lines (by the line parameter's value, in first-seen order).
    private var lines: [(name: String, points: [SweepPoint])] {
        guard let lp = linePath else { return [("", shown)] }
        var order: [String] = []
        var groups: [String: [SweepPoint]] = [:]
        for p in shown {
            let v = p.value(of: lp)?.value ?? "-"
            if groups[v] == nil { order.append(v) }
            groups[v, default: []].append(p)
        }
        return order.map { ("\(lp) = \($0)", groups[$0]!) }
    }

    /// The x of a point and the axis: numbers when every point has a number, else categories.
    private func xValues() -> (axis: Axis, x: (SweepPoint) -> Double) {
        let title = xPath ?? "point"
        guard let path = xPath else {
            return (ParameterChart.xAxis(title, numbers: shown.map { Double($0.index) }, categories: []), { Double($0.index) })
        }
        let numbers = shown.compactMap { $0.value(of: path)?.number }
        if numbers.count == shown.count, !numbers.isEmpty {
            return (ParameterChart.xAxis(title, numbers: numbers, categories: []), { $0.value(of: path)?.number ?? .nan })
        }
        var categories: [String] = []
        for p in shown {
            let v = p.value(of: path)?.value ?? "-"
            if !categories.contains(v) { categories.append(v) }
        }
        return (ParameterChart.xAxis(title, numbers: nil, categories: categories),
                { p in Double(categories.firstIndex(of: p.value(of: path)?.value ?? "-") ?? 0) })
    }

    private var kneeMarkers: [ParameterChart.Knee] {
        report.knees.compactMap { k in
            guard let v = k.knee, k.outcome == .found else { return nil }
            let at = k.fixed.isEmpty ? "" : " (\(k.fixed.map(\.text).joined(separator: " ")))"
            return ParameterChart.Knee(x: v, label: "knee \(SweepParameter.format(v))\(at)")
        }
    }

    private func series(_ value: @escaping (RunFigures) -> Double?, x: (SweepPoint) -> Double, dashed: Bool = false,
                        suffix: String = "") -> [ParameterChart.Series] {
        lines.enumerated().map { i, line in
            var pts: [(Double, Double)] = []
            var dots: [ParameterChart.Dot] = []
            for p in line.points {
                let px = x(p)
                if let f = p.figures, let y = value(f) { pts.append((px, y)) }
                for r in p.runs where r.counted {
                    guard let f = r.figures, let y = value(f) else { continue }
                    dots.append(.init(x: px, y: y, passed: r.outcome == .passed,
                                      href: r.runDirectory.map { $0 + "/report.html" },
                                      tooltip: "\(p.label) run \(r.repeatIndex): \(SweepText.outcomeWord(r.outcome)), \(Fmt.number(y))"))
                }
            }
            // Without a line parameter the one line is named by what it shows.
            let name = line.name.isEmpty ? (suffix.isEmpty ? "median of the runs" : String(suffix.dropFirst(2))) : line.name + suffix
            return ParameterChart.Series(name: name, color: Palette.color(i), line: pts, dots: dots, dashed: dashed)
        }
    }

    /// The SLO named `name` (as the run reports name it), from the first run that checked it.
    private func sloLimit(_ name: String?) -> (Double, String)? {
        guard let name else { return nil }
        for p in report.points {
            for r in p.runs {
                if let s = r.slo.first(where: { $0.name == name }) { return (s.limit, "SLO \(name) ≤ \(Fmt.withUnit(s.limit, s.unit))") }
            }
        }
        return nil
    }

    private func chart(_ id: String, _ title: String, _ value: @escaping (RunFigures) -> Double?, limit: String?) -> String {
        guard !shown.isEmpty else { return PageKit.note("No point has run yet.") }
        let (axis, x) = xValues()
        let s = series(value, x: x)
        let slo = sloLimit(limit)
        let ys = s.flatMap { $0.line.map(\.1) + $0.dots.map(\.y) } + (slo.map { [$0.0] } ?? [])
        return ParameterChart(id: "chart-\(id)", title: title, x: axis, y: .auto(title, values: ys, format: Fmt.number), series: s,
                              limits: slo.map { [.init(y: $0.0, label: $0.1)] } ?? [], knees: kneeMarkers).render()
    }

    private func resourceCharts() -> String {
        guard !shown.isEmpty else { return PageKit.note("No point has run yet.") }
        let (axis, x) = xValues()
        let styles = [LegendItem(label: "solid: writer", color: "#374151", swatch: .line(dashed: false)),
                      LegendItem(label: "dashed: readers", color: "#374151", swatch: .line(dashed: true))]
        let cpu = series({ $0.writerCpuPercent }, x: x, suffix: ", writer") + series({ $0.readerCpuPercent }, x: x, dashed: true, suffix: ", reader (mean)")
        let cpuValues = cpu.flatMap { $0.line.map(\.1) + $0.dots.map(\.y) }
        let mem = series({ $0.writerPeakRssMB }, x: x, suffix: ", writer") + series({ $0.readerPeakRssMB }, x: x, dashed: true, suffix: ", reader (largest)")
        let slo = sloLimit("peak reader RSS")
        let memValues = mem.flatMap { $0.line.map(\.1) + $0.dots.map(\.y) } + (slo.map { [$0.0] } ?? [])
        return ParameterChart(id: "chart-cpu", title: "CPU (% of one core)", x: axis,
                              y: .linear("CPU (% of one core, mean over the run)", hi: cpuValues.max() ?? 1, format: Fmt.number),
                              series: cpu, knees: kneeMarkers, extraLegend: styles).render()
            + ParameterChart(id: "chart-memory", title: "peak RSS (MB)", x: axis,
                             y: .linear("peak RSS (MB)", hi: memValues.max() ?? 1, format: Fmt.number), series: mem,
                             limits: slo.map { [.init(y: $0.0, label: $0.1)] } ?? [], knees: kneeMarkers, extraLegend: styles).render()
            + PageKit.note("The writer's mean CPU and peak RSS, and the readers' mean CPU per reader and largest peak RSS, from /proc every 500 ms.")
    }

    // MARK: Table

    private func pointTable() -> String {
        let paths = SweepText(report).paths
        var columns: [(title: String, numeric: Bool)] = [("point", false)]
        columns += paths.map { ($0, true) }
        columns += [("runs", false), ("passed", true), ("p50", true), ("p99", true), ("p99.9", true), ("max", true), ("lost", true),
                    ("skipped", true), ("delivered", true), ("writer CPU %", true), ("reader CPU %", true),
                    ("writer RSS MB", true), ("reader RSS MB", true), ("result", false)]
        var rows: [[PageKit.Cell]] = []
        for p in report.points {
            var row = [PageKit.Cell(String(format: "p%02d", p.index), Double(p.index))]
            row += paths.map { path in
                let v = p.value(of: path)
                return PageKit.Cell(v?.value ?? "-", v?.number)
            }
            let links = p.runs.filter { $0.runDirectory != nil }
            // One link per run; the cell's text is built by hand, so escape each part.
            let runCell = links.isEmpty ? "-" : links.map { "#\($0.repeatIndex)" }.joined(separator: " ")
            row.append(PageKit.Cell(runCell, href: links.count == 1 ? links[0].runDirectory! + "/report.html" : nil))
            row.append(PageKit.Cell("\(p.passedRuns)/\(p.countedRuns)", Double(p.passedRuns)))
            if let f = p.figures {
                let m = f.latencyCount > 0
                func lat(_ us: Double) -> PageKit.Cell { PageKit.Cell(Fmt.latency(us: us, measured: m), m ? us : -1) }
                row += [lat(f.p50Us), lat(f.p99Us), lat(f.p999Us), lat(f.maxUs),
                        PageKit.Cell(Fmt.count(f.lostFastReaders), Double(f.lostFastReaders), cls: f.lostFastReaders > 0 ? "warn" : nil),
                        PageKit.Cell(Fmt.count(f.skipped), Double(f.skipped)), PageKit.Cell(Fmt.count(f.delivered), Double(f.delivered)),
                        PageKit.Cell(Fmt.percent(f.writerCpuPercent), f.writerCpuPercent ?? -1),
                        PageKit.Cell(Fmt.percent(f.readerCpuPercent), f.readerCpuPercent ?? -1),
                        PageKit.Cell(Fmt.mb(f.writerPeakRssMB), f.writerPeakRssMB ?? -1),
                        PageKit.Cell(Fmt.mb(f.readerPeakRssMB), f.readerPeakRssMB ?? -1)]
            } else {
                row += Array(repeating: PageKit.Cell("-", -1), count: 11)
            }
            let word = SweepText.resultWord(p.result)
            row.append(PageKit.Cell(p.result == .invalid ? "\(word): \(p.detail ?? "")" : word,
                                    cls: p.result == .pass ? "pass" : p.result == .fail ? "fail" : "warn"))
            rows.append(row)
        }
        var html = PageKit.table("point-table", columns, rows)
        // Every run's report, for points with several runs.
        let multi = report.points.filter { $0.runs.filter { $0.runDirectory != nil }.count > 1 }
        if !multi.isEmpty {
            html += "<h3>Runs</h3><ul>" + multi.map { p in
                "<li>\(esc(String(format: "p%02d", p.index))) \(esc(p.label)): " + p.runs.compactMap { r in
                    r.runDirectory.map { "<a href=\"\(esc($0 + "/report.html"))\">#\(r.repeatIndex) \(esc(SweepText.outcomeWord(r.outcome)))</a>" }
                }.joined(separator: ", ") + "</li>"
            }.joined() + "</ul>"
        }
        return html + PageKit.note("Figures are the medians over each point's runs. Click a header to sort.")
    }
}
