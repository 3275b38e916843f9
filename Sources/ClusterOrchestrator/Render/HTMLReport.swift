import ClusterCore
import Foundation

/// Builds `report.html`: one self-contained page (inline CSS and SVG, a few
/// lines of optional JS to sort tables) that opens offline.
struct HTMLReport {
    let view: ReportView
    var report: RunReport { view.report }

    init(_ report: RunReport) {
        view = ReportView(report)
    }

    func render() -> String {
        let sections = [
            header(), sloSection(),
            section("Latency percentiles", id: "percentiles", percentileChart()),
            section("Latency over time", id: "latency-time", latencyOverTimeChart()),
            section("Latency spikes and the machine", id: "spikes", spikeSection()),
            section("Loss per reader", id: "loss", lossChart()),
            section("CPU and memory over time", id: "resources", resourceCharts()),
            section("Latency by role", id: "roles", roleTable()),
            section("Faults", id: "faults", faultTable()),
            securitySection(),
            section("Convergence", id: "convergence", convergeTable()),
            section("Nodes", id: "nodes", nodeTable()),
        ]
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>ClusterSim \(esc(report.name)): \(view.badge)</title>
            <style>\(HTMLReport.css)</style>
            </head>
            <body>
            <main>
            \(sections.joined(separator: "\n"))
            <footer>Generated from report.json (schema \(report.schemaVersion)).</footer>
            </main>
            <script>\(HTMLReport.sortScript)</script>
            </body>
            </html>

            """
    }

    // MARK: Sections

    private func section(_ title: String, id: String, _ content: String) -> String {
        "<section id=\"\(esc(id))\">\n<h2>\(esc(title))</h2>\n\(content)\n</section>"
    }

    private func note(_ text: String, nodata: Bool = false) -> String {
        "<p class=\"\(nodata ? "nodata" : "note")\">\(esc(text))</p>"
    }

    private func header() -> String {
        let r = report, h = r.environment.host, w = r.writer, t = r.totals, s = w.sendCallLatency
        let started = r.startedWallNs > 0
            ? HTMLReport.isoTime(ns: r.startedWallNs) : "-"
        var facts: [(String, String)] = [
            ("duration", "\(Fmt.fixed(r.durationSeconds, 1)) s"), ("started", started), ("seed", "\(r.seed)"),
            ("launcher", r.launcher), ("topology", r.topologyFile), ("run directory", r.runDirectory),
            ("host", "\(h.hostname): \(h.cores) cores, \(h.kernel), \(Fmt.fixed(Double(h.memoryBytes) / 1_073_741_824, 1)) GB"),
            ("libzmq", r.environment.libzmq),
            ("published", "\(Fmt.count(w.published)) (final version \(Fmt.count(w.finalVersion)), epoch \(w.epoch))"),
            ("rate", "\(Fmt.rate(w.rateAsked))/s asked, \(Fmt.rate(w.rateAchieved))/s achieved"),
            ("illegal events", Fmt.count(w.illegalEvents)),
            ("send call", s.count > 0 ? "p50 \(Fmt.latency(us: s.p50Us)), p99 \(Fmt.latency(us: s.p99Us))" : "-"),
            ("readers", "\(t.readers) (\(t.fastReaders) fast), \(t.crashes) crash\(t.crashes == 1 ? "" : "es")"),
            ("delivered", Fmt.count(t.delivered)),
            ("lost", "\(Fmt.count(t.lost)) (fast readers \(Fmt.count(t.lostFastReaders))), skipped \(Fmt.count(t.skipped))"),
            ("fan-out latency", r.latencyOverall.count > 0
                ? "p50 \(Fmt.latency(us: r.latencyOverall.p50Us)), p99 \(Fmt.latency(us: r.latencyOverall.p99Us)), max \(Fmt.latency(us: r.latencyOverall.maxUs))" : "-"),
            ("queries", "\(Fmt.count(t.queryServed)) served, \(Fmt.count(t.queryBusy)) busy"),
            ("timings", "ready \(Fmt.fixed(r.timings.launchToReadyMs, 0)) ms, collect \(Fmt.fixed(r.timings.collectMs, 0)) ms, teardown \(Fmt.fixed(r.timings.teardownMs, 0)) ms"),
            ("orchestrator", "CPU \(Fmt.percent(r.environment.orchestratorCpuPercent)) %, peak RSS \(Fmt.mb(r.environment.orchestratorPeakRssMB)) MB"),
            ("host steal", r.environment.hostStealPercent.map { "\(Fmt.percent($0)) % of CPU time over the measured phase" } ?? "-"),
        ]
        if let line = view.deliveryLine { facts.append(("delivery", line)) }
        if let line = view.batchSizeLine { facts.append(("batch sizes", line)) }
        if let line = view.controlPlaneText { facts.append(("control plane", line)) }
        let dl = facts.map { "<div><dt>\(esc($0.0))</dt><dd>\(esc($0.1))</dd></div>" }.joined()
        var html = """
            <header>
            <h1>ClusterSim run <span class="name">\(esc(r.name))</span> <span class="badge \(view.badge.lowercased())">\(view.badge)</span></h1>
            <p class="result">\(esc(view.resultLine))</p>
            """
        if let why = r.aborted {
            html += "\n<p class=\"aborted\">ABORTED: \(esc(why)). The report is partial.</p>"
        }
        return html + "\n<dl class=\"facts\">\(dl)</dl>\n</header>"
    }

    private func sloSection() -> String {
        guard !report.slo.isEmpty else { return section("SLOs", id: "slo", note("No SLOs in the topology.")) }
        let rows = report.slo.map { s -> [Cell] in
            [Cell(s.name), Cell(Fmt.withUnit(s.limit, s.unit), s.limit), Cell(Fmt.withUnit(s.measured, s.unit), s.measured),
             Cell(s.pass ? "PASS" : "FAIL", cls: s.pass ? "pass" : "fail"), Cell(s.detail)]
        }
        return section("SLOs", id: "slo", table("slo-table", [("SLO", false), ("limit", true), ("measured", true),
                                                            ("result", false), ("detail", false)], rows))
    }

    // MARK: Charts

    private static func msLabel(_ ms: Double) -> String { Fmt.number(ms) }

    /// Percentile in percent → the x of a "1/(1-p)" log axis (log10 of 1/(1-p)).
    private static func nines(_ percent: Double) -> Double { log10(100 / max(100 - percent, 1e-6)) }

    private func percentileChart() -> String {
        // HdrHistogram reports percentiles out of 100; accept fractions too.
        let raw = report.percentileCurve.filter { $0.percentile.isFinite && $0.us.isFinite }
        guard !raw.isEmpty else { return note("No latency data: no fast reader recorded a sample.", nodata: true) }
        let scale = (raw.map(\.percentile).max() ?? 0) <= 1 ? 100.0 : 1.0
        let pts = raw.map { (p: min($0.percentile * scale, 100), ms: $0.us / 1_000) }.sorted { $0.p < $1.p }
        let finiteMax = pts.filter { $0.p < 100 }.map { HTMLReport.nines($0.p) }.max() ?? 0
        let xMax = min(6, max(4, ceil(finiteMax)))
        let tickPercents: [(Double, String)] = [(0, "0%"), (50, "50%"), (90, "90%"), (99, "99%"), (99.9, "99.9%"),
                                                (99.99, "99.99%"), (99.999, "99.999%"), (99.9999, "99.9999%")]
        let ticks = tickPercents.filter { HTMLReport.nines($0.0) <= xMax + 1e-9 }
            .map { Tick(value: HTMLReport.nines($0.0), label: $0.1) }
        let x = Axis(title: "percentile", kind: .linear, lo: 0, hi: xMax, ticks: ticks)
        func xOf(_ p: Double) -> Double { p >= 100 ? xMax : min(xMax, HTMLReport.nines(p)) }

        var series = [LineChart.Series(name: "all fast readers", color: "#111827", points: pts.map { (xOf($0.p), $0.ms) })]
        var values = pts.map(\.ms)
        for (i, role) in report.latencyByRole.keys.sorted().enumerated() {
            let l = report.latencyByRole[role]!
            guard l.count > 0 else { continue }
            let rp: [(Double, Double)] = [(50, l.p50Us), (90, l.p90Us), (99, l.p99Us), (99.9, l.p999Us)]
                .map { (xOf($0.0), $0.1 / 1_000) }
            values += rp.map(\.1)
            series.append(.init(name: "\(role) (p50, p90, p99, p99.9)", color: Palette.color(i), points: rp, dashed: true))
        }
        let y = Axis.auto("latency (ms)", values: values, format: HTMLReport.msLabel)
        return LineChart(id: "chart-percentiles", title: "Fan-out latency by percentile", x: x, y: y, series: series).render()
            + note("Merged histogram of the fast readers; the dashed lines join each role's own percentiles. The right edge is the maximum.")
    }

    private var faultMarkers: [LineChart.Marker] {
        view.faults.compactMap { f in f.appliedAtSeconds.map { LineChart.Marker(x: $0, label: "\(f.action) \(f.target)") } }
    }

    /// A time axis covering the run and every point given.
    private func timeAxis(_ ts: [Double]) -> Axis {
        let end = max(report.durationSeconds, ts.max() ?? 0, faultMarkers.map(\.x).max() ?? 0, 1)
        return .linear("time since the measured phase began (s)", hi: end, count: 10, format: Fmt.number)
    }

    private func latencyOverTimeChart() -> String {
        let roles = view.roleSeries
        guard !roles.isEmpty else { return note("No latency series: no reader reported per-second samples.", nodata: true) }
        var series: [LineChart.Series] = []
        for (i, r) in roles.enumerated() {
            let color = Palette.color(i)
            series.append(.init(name: "\(r.role) p99 (worst node)", color: color, points: r.p99.map { ($0.0, $0.1 / 1_000) }, breakOver: 2.5))
            series.append(.init(name: "\(r.role) p50 (median node)", color: color, points: r.p50.map { ($0.0, $0.1 / 1_000) },
                                dashed: true, breakOver: 2.5))
        }
        let all = series.flatMap { $0.points }
        let chart = LineChart(id: "chart-latency-time", title: "Fan-out latency per second by role",
                              x: timeAxis(all.map(\.0)), y: .auto("latency (ms)", values: all.map(\.1), format: HTMLReport.msLabel),
                              series: series, markers: faultMarkers)
        return chart.render() + note("Per second and role: the worst p99 and the median p50 over the role's readers. Dashed vertical lines are faults, at the time they were applied.")
    }

    /// The spike table, then the host's CPU and the fast readers' run-queue wait over time beside the latency chart.
    private func spikeSection() -> String {
        var out = ""
        if let spikes = report.spikes, !spikes.isEmpty {
            let rows = spikes.map { s -> [Cell] in
                [Cell(s.fromSeconds == s.toSeconds ? "\(s.fromSeconds)" : "\(s.fromSeconds)–\(s.toSeconds)", Double(s.fromSeconds)),
                 Cell(Fmt.latency(us: s.p99Us), s.p99Us), Cell("\(s.readers)", Double(s.readers)), Cell(s.causes.joined(separator: "; "))]
            }
            out += table("spike-table", [("seconds", true), ("p99", true), ("readers", true), ("measured at the time", false)], rows)
                + note("Seconds in which a fast reader's p99 passed 3× the run's typical \(Fmt.latency(us: spikes[0].typicalP99Us)) (and 10 ms more), "
                    + "with what the run measured then. Only what was measured is said.")
        } else if report.spikes != nil {
            out += note("No latency spikes: no second's p99 passed 3× the run's typical level.")
        }
        if let s = report.hostSaturation, s.saturatedSeconds > 0 { out += note("Host: " + s.sentence + ".") }
        let host = report.host ?? []
        if !host.isEmpty {
            let cpu = LineChart(id: "chart-host", title: "Host: busy CPU (percent of one CPU) and runnable tasks",
                                x: timeAxis(host.map(\.t)),
                                y: .linear("percent / tasks", hi: max(host.map { max($0.cpuBusyPercent, Double($0.runQueue)) }.max() ?? 1, 1),
                                           format: Fmt.number),
                                series: [.init(name: "busy CPU %", color: Palette.color(0), points: host.map { ($0.t, $0.cpuBusyPercent) }),
                                         .init(name: "runnable tasks", color: Palette.color(1), points: host.map { ($0.t, Double($0.runQueue)) },
                                               dashed: true),
                                         .init(name: "steal %", color: Palette.lost, points: host.map { ($0.t, $0.stealPercent) })],
                                markers: faultMarkers, height: 240)
            out += cpu.render()
        }
        let waits = view.runQueueSeries
        if !waits.isEmpty {
            let chart = LineChart(id: "chart-runqueue", title: "Fast readers: time waiting on a run queue (ms per second)",
                                  x: timeAxis(waits.map(\.0)), y: .auto("ms per second", values: waits.map(\.1) + waits.map(\.2), format: Fmt.number),
                                  series: [.init(name: "worst reader", color: Palette.color(2), points: waits.map { ($0.0, $0.1) }),
                                           .init(name: "median reader", color: Palette.color(2), points: waits.map { ($0.0, $0.2) }, dashed: true)],
                                  markers: faultMarkers, height: 240)
            out += chart.render()
        }
        return out.isEmpty ? note("No host or scheduling samples in this report.", nodata: true) : out
    }

    private func lossChart() -> String {
        let (shown, total) = view.lossRanking()
        guard !shown.isEmpty else { return note("No losses: every reader received every version.", nodata: true) }
        let chart = BarChart(id: "chart-loss", title: "Versions lost and skipped per reader",
                             categories: shown.map(\.name),
                             stacks: [.init(name: "lost", color: Palette.lost, values: shown.map { Double($0.lost) }),
                                      .init(name: "skipped (by policy)", color: Palette.skipped, values: shown.map { Double(view.skipped($0)) })],
                             valueTitle: "versions", format: { Fmt.count(Int64($0.rounded())) })
        let more = total > shown.count ? " Showing the worst \(shown.count) of \(total) readers with losses or skips." : ""
        return chart.render() + note("Readers with nonzero loss or skips, worst first.\(more)")
    }

    private func resourceCharts() -> String {
        let chosen = view.resourceNodes()
        guard !chosen.isEmpty else { return note("No resource samples were recorded.", nodata: true) }
        func series(_ value: KeyPath<ResourceSample, Double>) -> [LineChart.Series] {
            chosen.enumerated().map { i, n in
                let pts = n.resources!.samples.map { ($0.t, $0[keyPath: value]) }
                return .init(name: n.name, color: n.role == .writer ? "#111827" : Palette.color(i), points: pts, breakOver: 2)
            }
        }
        let cpu = series(\.cpuPercent), rss = series(\.rssMB)
        let ts = cpu.flatMap { $0.points.map(\.0) }
        let cpuChart = LineChart(id: "chart-cpu", title: "CPU per node (percent of one core)", x: timeAxis(ts),
                                 y: .linear("CPU (% of one core)", hi: cpu.flatMap { $0.points.map(\.1) }.max() ?? 1, format: Fmt.number),
                                 series: cpu, markers: faultMarkers, height: 300)
        let rssChart = LineChart(id: "chart-rss", title: "Resident memory per node (MB)", x: timeAxis(ts),
                                 y: .linear("RSS (MB)", hi: rss.flatMap { $0.points.map(\.1) }.max() ?? 1, format: Fmt.number),
                                 series: rss, markers: faultMarkers, height: 300)
        return cpuChart.render() + "\n" + rssChart.render() + "\n" + note(resourceTotalsNote(shownCount: chosen.count))
    }

    /// Totals over every sampled node, summing samples that fall in the same half second.
    private func resourceTotalsNote(shownCount: Int) -> String {
        var cpu: [Int: Double] = [:], rss: [Int: Double] = [:]
        let sampled = view.nodes.filter { !($0.resources?.samples.isEmpty ?? true) }
        for n in sampled {
            for s in n.resources!.samples where s.t.isFinite {
                let k = Int((s.t * 2).rounded())
                cpu[k, default: 0] += s.cpuPercent
                rss[k, default: 0] += s.rssMB
            }
        }
        let meanCpu = cpu.isEmpty ? 0 : cpu.values.reduce(0, +) / Double(cpu.count)
        let peak = rss.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
        let peakText = peak.map { "\(Fmt.mb($0.value)) MB at \(Fmt.number(Double($0.key) / 2)) s" } ?? "-"
        return "Showing the writer and the \(max(0, shownCount - view.writers.filter { $0.resources != nil }.count)) readers "
            + "with the highest peak RSS, of \(sampled.count) sampled nodes. All nodes together: "
            + "total RSS peaked at \(peakText); total CPU averaged \(Fmt.percent(meanCpu)) % of one core."
    }

    // MARK: Tables

    /// A table cell: display text, an optional numeric value to sort on, an optional class.
    private typealias Cell = TableCell

    private func table(_ id: String, _ columns: [(title: String, numeric: Bool)], _ rows: [[Cell]]) -> String {
        HTMLTable.render(id, columns, rows)
    }

    private func roleTable() -> String {
        let rows = view.roleRows.map { r -> [Cell] in
            let l = r.latency, m = (l?.count ?? 0) > 0
            func lat(_ us: Double?) -> Cell { Cell(Fmt.latency(us: us ?? 0, measured: m), m ? us : -1) }
            return [Cell(r.role), Cell("\(r.readers)", Double(r.readers)), Cell(Fmt.count(r.delivered), Double(r.delivered)),
                    Cell(Fmt.count(r.lost), Double(r.lost), cls: r.lost > 0 ? "warn" : nil), Cell(Fmt.count(r.skipped), Double(r.skipped)),
                    Cell(Fmt.count(l?.count ?? 0), Double(l?.count ?? 0)),
                    lat(l?.p50Us), lat(l?.p90Us), lat(l?.p99Us), lat(l?.p999Us), lat(l?.maxUs), lat(l?.meanUs)]
        }
        return table("role-table", [("role", false), ("readers", true), ("delivered", true), ("lost", true), ("skipped", true),
                                    ("samples", true), ("p50", true), ("p90", true), ("p99", true), ("p99.9", true),
                                    ("max", true), ("mean", true)], rows)
            + note("Latency merged over each role's fast readers (no processing delay, no fault aimed at them).")
    }

    private func faultTable() -> String {
        guard !report.faults.isEmpty else { return note("No faults were scheduled.") }
        let rows = view.faults.map { f -> [Cell] in
            [Cell(Fmt.seconds(f.plannedAtSeconds), f.plannedAtSeconds), Cell(Fmt.seconds(f.appliedAtSeconds), f.appliedAtSeconds ?? -1),
             Cell(f.action.description), Cell(f.target), Cell(f.outcome.rawValue, cls: f.outcome == .applied ? nil : "fail"), Cell(f.source),
             Cell(f.detail)]
        }
        return table("fault-table", [("planned", true), ("applied", true), ("action", false), ("target", false),
                                     ("outcome", false), ("source", false), ("detail", false)], rows)
    }

    /// CURVE: the connections refused, where and whose; nothing for a plain run.
    private func securitySection() -> String {
        guard let s = report.security else { return "" }
        let rows = s.refusals.sorted { $0.count > $1.count }.map { r -> [Cell] in
            [Cell(r.node ?? ""), Cell(r.socket), Cell(r.outcome, cls: "warn"), Cell(r.address), Cell(r.key), Cell(Fmt.count(r.count), Double(r.count)),
             Cell(r.reason)]
        }
        let summary = note("CURVE on every socket: \(Fmt.count(s.admitted)) connections admitted, \(Fmt.count(s.total)) refused "
                           + "(keys \(Fmt.count(s.keysRefused)), failed handshakes \(Fmt.count(s.handshakesFailed)), "
                           + "the run's nodes refused by a server \(Fmt.count(s.refusedByServer))).")
        guard !rows.isEmpty else { return section("Security", id: "security", summary) }
        return section("Security", id: "security", summary + table(
            "security-table", [("node", false), ("socket", false), ("outcome", false), ("address", false), ("key", false),
                               ("count", true), ("reason", false)], rows))
    }

    private func convergeTable() -> String {
        let all = view.convergeRows
        guard !all.isEmpty else { return note("No convergence events were recorded.") }
        let limit = 100
        let rows = all.prefix(limit).map { c -> [Cell] in
            [Cell(c.node), Cell(c.event.trigger.rawValue), Cell(Fmt.fixed(c.event.millis, 3), c.event.millis),
             Cell(Fmt.count(c.event.version), Double(c.event.version))]
        }
        let more = all.count > limit ? note("Slowest \(limit) of \(all.count) events; the rest are in report.json.") : ""
        return table("converge-table", [("node", false), ("trigger", false), ("ms", true), ("version", true)], Array(rows)) + more
    }

    private func nodeTable() -> String {
        let rows = view.nodes.map { n -> [Cell] in
            let bad = n.status != .completed
            return view.nodeCells(n).enumerated().map { i, c in
                Cell(c.text, c.value, cls: (i == 3 && bad) || (i == 5 && n.lost > 0) ? "fail" : nil)
            }
        }
        return table("node-table", ReportView.nodeColumns, rows)
            + note("\(view.nodes.count) nodes. Writer latency is its send call; CPU % is the mean over the run, of one core. Click a header to sort.")
    }

    // MARK: Static parts

    /// Wall-clock nanoseconds as an ISO 8601 UTC time.
    private static func isoTime(ns: UInt64) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(ns) / 1e9))
    }

    static let css = """
        :root{color-scheme:light}
        body{margin:0;background:#f9fafb;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
        main{max-width:1160px;margin:0 auto;padding:16px 20px 40px}
        h1{font-size:22px;margin:8px 0 4px}h1 .name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
        h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
        section,header{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 16px 14px;margin-top:16px}
        section h2{margin-top:4px}
        .badge{display:inline-block;padding:2px 10px;border-radius:12px;font-size:14px;color:#fff;vertical-align:middle}
        .badge.pass{background:#15803d}.badge.fail{background:#b91c1c}.badge.aborted{background:#92400e}
        .result{margin:4px 0;font-weight:600}
        .aborted{background:#fef3c7;border:1px solid #f59e0b;padding:6px 10px;border-radius:6px;font-weight:600}
        dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:2px 20px;margin:10px 0 0}
        dl.facts div{display:flex;gap:8px}dt{color:#6b7280;min-width:110px}dd{margin:0}
        table{border-collapse:collapse;width:100%;font-size:13px}
        th,td{padding:3px 8px;border-bottom:1px solid #f0f1f3;text-align:left;white-space:nowrap}
        th{background:#f3f4f6;cursor:pointer;user-select:none;position:sticky;top:0}
        th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
        td.pass{color:#15803d;font-weight:700}td.fail{color:#b91c1c;font-weight:700}td.warn{color:#b45309}
        tbody tr:hover{background:#f9fafb}
        .note{color:#4b5563;font-size:12.5px;margin:6px 0 0}
        .nodata{color:#6b7280;font-style:italic;padding:18px;border:1px dashed #d1d5db;border-radius:6px;text-align:center}
        svg.chart{width:100%;height:auto;display:block;margin-top:6px}
        svg .grid{stroke:#eceef1;stroke-width:1}svg .axis{stroke:#6b7280;stroke-width:1}
        svg text{font-family:inherit;fill:#374151}svg .tick{font-size:11px}svg .atitle{font-size:12px;fill:#111827}
        svg .lg{font-size:12px}
        svg .marker{stroke:#7c3aed;stroke-width:1.2;stroke-dasharray:4 3}
        svg .mlabel{font-size:11px;fill:#6d28d9;paint-order:stroke;stroke:#fff;stroke-width:3px}
        footer{color:#9ca3af;font-size:12px;margin-top:20px}
        """

    /// Sorts a table by the clicked header; numbers by their data-v value. The page reads fine without it.
    static let sortScript = """
        document.querySelectorAll("table.sortable th").forEach(function(th){th.addEventListener("click",function(){
        var t=th.closest("table"),b=t.tBodies[0],i=th.cellIndex,n=th.classList.contains("num"),d=th.dataset.dir==="asc"?-1:1;
        th.dataset.dir=d===1?"asc":"desc";Array.from(b.rows).sort(function(x,y){var a=x.cells[i],c=y.cells[i];
        if(n){return(parseFloat(a.dataset.v||"0")-parseFloat(c.dataset.v||"0"))*d;}
        return a.textContent.localeCompare(c.textContent,undefined,{numeric:true})*d;}).forEach(function(r){b.appendChild(r);});});});
        """
}
