import ClusterCore

/// Builds `summary.txt`, the table printed at the end of a run.
struct SummaryText {
    let view: ReportView
    var report: RunReport { view.report }

    init(_ report: RunReport) {
        view = ReportView(report)
    }

    func render() -> String {
        [header(), writerLine(), roleTable(), nodeTable(), faultTable(), spikeTable(), saturationLine(), securityLines(), sloTable(), view.resultLine + "\n"]
            .compactMap { $0 }.joined(separator: "\n")
    }

    private func header() -> String {
        let r = report, h = r.environment.host
        var lines = [
            "ClusterSim run \(r.name)",
            "  duration \(Fmt.fixed(r.durationSeconds, 1)) s   seed \(r.seed)   launcher \(r.launcher)   topology \(r.topologyFile)",
            "  host \(h.hostname): \(h.cores) cores, \(h.kernel), \(Fmt.fixed(Double(h.memoryBytes) / 1_073_741_824, 1)) GB   libzmq \(r.environment.libzmq)",
            "  launch to ready \(Fmt.fixed(r.timings.launchToReadyMs, 0)) ms   collect \(Fmt.fixed(r.timings.collectMs, 0)) ms   teardown \(Fmt.fixed(r.timings.teardownMs, 0)) ms",
            "  orchestrator CPU \(Fmt.percent(r.environment.orchestratorCpuPercent)) %   peak RSS \(Fmt.mb(r.environment.orchestratorPeakRssMB)) MB"
                + (r.environment.hostStealPercent.map { "   host steal \(Fmt.percent($0)) % of CPU time" } ?? ""),
            "  run directory \(r.runDirectory)",
        ]
        if let why = r.aborted { lines.append("  ABORTED: \(why) (partial report)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Said only when a log file could not take what its reader received.
    private var logLine: String {
        guard let n = report.totals.logLinesNotWritten, n > 0 else { return "" }
        return "   log lines not written \(Fmt.count(n)) (\(Fmt.count(report.totals.logWriteErrors ?? 0)) write errors)"
    }

    /// Said when the writer made fewer than 95 % of the versions asked: its
    /// readers' figures are then for a lighter load than the topology's.
    private var shortfallLine: String? {
        let w = report.writer
        guard w.rateAsked > 0, w.rateAchieved < 0.95 * w.rateAsked else { return nil }
        return "the writer made \(Fmt.fixed(100 * w.rateAchieved / w.rateAsked, 1)) % of the versions asked "
            + "(it fell behind, or was paused or restarted): the readers' figures are for \(Fmt.rate(w.rateAchieved))/s, not \(Fmt.rate(w.rateAsked))/s"
    }

    private func writerLine() -> String {
        let w = report.writer, s = w.sendCallLatency, t = report.totals
        let parts = w.incarnations ?? []
        let incarnations = parts.count > 1
            ? " over \(parts.count) incarnations (\(parts.map { Fmt.count($0.published) }.joined(separator: " + ")))" : ""
        let delivery = [view.deliveryLine, view.batchSizeLine, shortfallLine].compactMap { $0.map { "\n  " + $0 } }.joined()
        let sendCall = s.count > 0
            ? "send-call p50 \(Fmt.latency(us: s.p50Us)) p99 \(Fmt.latency(us: s.p99Us))" : "send-call -"
        return """
            writer: published \(Fmt.count(w.published))\(incarnations)   rate \(Fmt.rate(w.rateAsked))/s asked, \(Fmt.rate(w.rateAchieved))/s achieved   \
            final version \(Fmt.count(w.finalVersion)) (epoch \(w.epoch))   illegal events \(Fmt.count(w.illegalEvents))   \
            \(sendCall)\(w.restarts > 0 ? "   restarts \(w.restarts)" : "")\(delivery)
            readers: \(t.readers) (\(t.fastReaders) fast)   delivered \(Fmt.count(t.delivered))   lost \(Fmt.count(t.lost)) \
            (fast readers \(Fmt.count(t.lostFastReaders)))   skipped \(Fmt.count(t.skipped))   decode errors \(Fmt.count(t.decodeErrors))   \
            crashes \(t.crashes)\(logLine)
            queries: served \(Fmt.count(t.queryServed))   busy \(Fmt.count(t.queryBusy)) (\(Fmt.fixed(t.busyRatio * 100, 2)) %)   \
            peak reader RSS \(Fmt.mb(t.peakReaderRssMB)) MB   max memory growth \(Fmt.mb(t.maxMemoryGrowthMB)) MB   \
            max converge \(Fmt.fixed(t.maxConvergeMs, 1)) ms\(view.controlPlaneText.map { "\ncontrol plane: \($0)" } ?? "")

            """
    }

    private func roleTable() -> String {
        var table = TextTable([.init("role", .left), .init("readers"), .init("delivered"), .init("lost"), .init("skipped"),
                               .init("p50"), .init("p99"), .init("p99.9"), .init("max")])
        for row in view.roleRows {
            let l = row.latency, measured = (l?.count ?? 0) > 0
            table.add([row.role, "\(row.readers)", Fmt.count(row.delivered), Fmt.count(row.lost), Fmt.count(row.skipped),
                       Fmt.latency(us: l?.p50Us ?? 0, measured: measured), Fmt.latency(us: l?.p99Us ?? 0, measured: measured),
                       Fmt.latency(us: l?.p999Us ?? 0, measured: measured), Fmt.latency(us: l?.maxUs ?? 0, measured: measured)])
        }
        return "fan-out latency by role (merged over fast readers)\n" + table.render()
    }

    private func nodeTable() -> String {
        let (shown, omitted) = view.summaryNodes()
        var table = TextTable(ReportView.nodeColumns.map { .init($0.title, $0.numeric ? .right : .left) })
        for n in shown { table.add(view.nodeCells(n).map(\.text)) }
        var text = "nodes (writer latency is its send call)\n" + table.render()
        if omitted > 0 { text += "  … \(omitted) more nodes in report.json\n" }
        return text
    }

    private func faultTable() -> String {
        guard !report.faults.isEmpty else { return "faults: none\n" }
        var table = TextTable([.init("planned"), .init("applied"), .init("action", .left), .init("target", .left),
                               .init("outcome", .left), .init("detail", .left)])
        for f in view.faults {
            table.add([Fmt.seconds(f.plannedAtSeconds), Fmt.seconds(f.appliedAtSeconds), f.action.description, f.target, f.outcome.rawValue,
                       Fmt.truncate(f.detail, 60)])
        }
        return "faults\n" + table.render()
    }

    /// The host's load over the run, when it was saturated in any second.
    private func saturationLine() -> String? {
        guard let s = report.hostSaturation, s.saturatedSeconds > 0 else { return nil }
        return "host: \(s.sentence)\n"
    }

    /// The latency spikes and what was measured at their time; nothing when there were none.
    private func spikeTable() -> String? {
        guard let spikes = report.spikes, let first = spikes.first else { return nil }
        var table = TextTable([.init("seconds", .left), .init("p99"), .init("readers"), .init("measured at the time", .left)])
        for s in spikes {
            table.add([s.fromSeconds == s.toSeconds ? "\(s.fromSeconds)" : "\(s.fromSeconds)–\(s.toSeconds)",
                       Fmt.latency(us: s.p99Us), "\(s.readers)", s.causes.joined(separator: "; ")])
        }
        return "latency spikes (a fast reader's p99 in a second above 3× the run's typical \(Fmt.latency(us: first.typicalP99Us)), and 10 ms more)\n"
            + table.render()
    }

    /// CURVE: what was not let through, where and whose; nothing for a plain run.
    private func securityLines() -> String? {
        guard let s = report.security else { return nil }
        let head = "security: \(s.mode)   admitted \(Fmt.count(s.admitted))   refused \(Fmt.count(s.total)) connections (keys \(Fmt.count(s.keysRefused)), "
            + "failed handshakes \(Fmt.count(s.handshakesFailed)), the run's nodes refused by a server \(Fmt.count(s.refusedByServer)))"
        return ([head] + s.lines(limit: 8)).joined(separator: "\n") + "\n"
    }

    private func sloTable() -> String {
        guard !report.slo.isEmpty else { return "SLOs: none\n" }
        var table = TextTable([.init("SLO", .left), .init("limit"), .init("measured"), .init("result", .left),
                               .init("detail", .left)])
        for s in report.slo {
            table.add([s.name, Fmt.withUnit(s.limit, s.unit), Fmt.withUnit(s.measured, s.unit), s.pass ? "PASS" : "FAIL",
                       Fmt.truncate(s.detail, 60)])
        }
        return "SLOs\n" + table.render()
    }
}
