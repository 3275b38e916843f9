import ClusterCore

/// What the text summary and the HTML report both derive from a `RunReport`:
/// role totals, node rows, the merged per-role series, loss and resource
/// selections. Computed once, with every collection in a deterministic order.
struct ReportView {
    let report: RunReport
    /// Every node, the writer first, then the rest in natural name order.
    let nodes: [NodeReport]
    /// Names and groups some fault was aimed at.
    let faultTargets: Set<String>

    init(_ report: RunReport) {
        self.report = report
        self.nodes = report.nodes.sorted(by: ReportView.nodeOrder)
        self.faultTargets = Set(report.faults.map(\.target))
    }

    static func nodeOrder(_ a: NodeReport, _ b: NodeReport) -> Bool {
        let wa = a.role == .writer, wb = b.role == .writer
        if wa != wb { return wa }
        return NaturalOrder.less(a.name, b.name)
    }

    static func isReader(_ n: NodeReport) -> Bool { n.role.isReader }

    var readers: [NodeReport] { nodes.filter(ReportView.isReader) }
    var writers: [NodeReport] { nodes.filter { $0.role == .writer } }

    func skipped(_ n: NodeReport) -> UInt64 { n[.skipped] }

    func isFaulted(_ n: NodeReport) -> Bool {
        faultTargets.contains(n.name) || faultTargets.contains(n.group)
    }

    /// A node worth listing whatever its numbers: slow, aimed at by a fault, restarted, or not completed.
    func isNotable(_ n: NodeReport) -> Bool {
        (ReportView.isReader(n) && !n.fast) || isFaulted(n) || n.status != .completed || n.restarts > 0
    }

    // MARK: Result

    var violatedSLOs: Int { report.slo.filter { !$0.pass }.count }

    /// "PASS", "FAIL" or "ABORTED" (an aborted run cannot pass).
    var badge: String {
        if report.aborted != nil { return "ABORTED" }
        return report.sloPassed ? "PASS" : "FAIL"
    }

    /// "result: PASS (0 of 3 SLOs violated)".
    var resultLine: String {
        var line = "result: \(report.sloPassed ? "PASS" : "FAIL") (\(violatedSLOs) of \(report.slo.count) SLOs violated)"
        if report.aborted != nil { line += "; run aborted, report partial" }
        return line
    }

    /// "3 messages refused (unknown-peer 2, malformed 1)", or nil for a report without the record.
    var controlPlaneText: String? {
        guard let c = report.controlPlane else { return nil }
        let reasons = c.refusedByReason.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \(Fmt.count($0.value))" }
        return "\(Fmt.count(c.refused)) message\(c.refused == 1 ? "" : "s") refused"
            + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))")
    }

    // MARK: The writer's delivery

    /// How the writer delivered: its promise, and what batching or coalescing
    /// did. Nil for a writer that did neither (or a report written before it).
    var deliveryLine: String? {
        let w = report.writer
        if let b = w.batching {
            let d = b.delay
            return "batching (promise \(w.promise ?? "every-version"), up to \(b.maxCount) a frame, maxDelay \(Fmt.latency(us: b.maxDelayUs))): "
                + "\(Fmt.count(b.frames)) frames for \(Fmt.count(b.versions)) versions, \(Fmt.fixed(b.meanVersionsPerFrame, 2)) a frame; "
                + "\(Fmt.count(b.batchedVersions)) versions in \(Fmt.count(b.batchFrames)) batches; delay added "
                + (d.count > 0 ? "p50 \(Fmt.latency(us: d.p50Us)) p99 \(Fmt.latency(us: d.p99Us)) max \(Fmt.latency(us: d.maxUs))" : "-")
        }
        if let c = w.coalesced, c > 0 || w.promise == DeliveryPromise.newestState.rawValue {
            return "coalescing (promise \(w.promise ?? "newest-state")): \(Fmt.count(c)) versions folded into newer ones, not sent"
        }
        return nil
    }

    /// The batch-size histogram: "1: 1,203   2: 87   3–4: 40 …" (frames by the versions they carried).
    var batchSizeLine: String? {
        guard let b = report.writer.batching, !b.sizes.isEmpty else { return nil }
        return "frames by versions carried: " + b.sizes.map { "\($0.label): \(Fmt.count($0.frames))" }.joined(separator: "   ")
    }

    // MARK: Roles

    struct RoleRow {
        var role: String
        var readers: Int
        var delivered: UInt64
        var lost: UInt64
        var skipped: UInt64
        /// Merged over the role's fast readers; nil when the report has none.
        var latency: LatencySummary?
    }

    /// One row per reader role (sorted), then "all".
    var roleRows: [RoleRow] {
        let byRole = Dictionary(grouping: readers, by: \.role.name)
        let roles = Set(byRole.keys).union(report.latencyByRole.keys).sorted()
        var rows = roles.map { role -> RoleRow in
            let ns = byRole[role] ?? []
            return RoleRow(role: role, readers: ns.count,
                           delivered: ns.reduce(0) { $0 + $1.received },
                           lost: ns.reduce(0) { $0 + $1.lost },
                           skipped: ns.reduce(0) { $0 + skipped($1) },
                           latency: report.latencyByRole[role])
        }
        let t = report.totals
        rows.append(RoleRow(role: "all", readers: t.readers, delivered: t.delivered, lost: t.lost,
                            skipped: t.skipped, latency: report.latencyOverall))
        return rows
    }

    // MARK: Nodes

    /// The columns of a node row, shared by the summary and the HTML table.
    static let nodeColumns: [(title: String, numeric: Bool)] = [
        ("node", false), ("role", false), ("policy", false), ("status", false), ("received", true),
        ("lost", true), ("skipped", true), ("p50", true), ("p99", true), ("max", true),
        ("peak RSS MB", true), ("CPU %", true),
    ]

    /// A node's cells (display text) and, for numeric columns, the value to sort on.
    func nodeCells(_ n: NodeReport) -> [(text: String, value: Double?)] {
        let l = n.latency, measured = l.count > 0
        var status = n.status.rawValue
        if n.restarts > 0 { status += " (\(n.restarts) restart\(n.restarts == 1 ? "" : "s"))" }
        return [
            (n.name, nil), (n.role.name, nil), (n.policy ?? "-", nil), (status, nil),
            counterCell(n, "received"), counterCell(n, "lost"), counterCell(n, "skipped"),
            (Fmt.latency(us: l.p50Us, measured: measured), measured ? l.p50Us : -1),
            (Fmt.latency(us: l.p99Us, measured: measured), measured ? l.p99Us : -1),
            (Fmt.latency(us: l.maxUs, measured: measured), measured ? l.maxUs : -1),
            (Fmt.mb(n.resources?.peakRssMB), n.resources?.peakRssMB ?? -1),
            (Fmt.percent(n.resources?.meanCpuPercent), n.resources?.meanCpuPercent ?? -1),
        ]
    }

    /// A counter's cell; "-" for a node that does not keep it (the writer has no losses to count).
    private func counterCell(_ n: NodeReport, _ name: String) -> (text: String, value: Double?) {
        guard let v = n.counters[name] else { return ReportView.isReader(n) ? ("0", 0) : ("-", -1) }
        return (Fmt.count(v), Double(v))
    }

    /// The nodes the summary lists when there are too many to list all:
    /// the writer, every notable node, then the worst readers by loss and by
    /// p99 until about `limit` rows. Returned in node order.
    func summaryNodes(limit: Int = 15) -> (shown: [NodeReport], omitted: Int) {
        guard nodes.count > limit else { return (nodes, 0) }
        var chosen = Set<String>()
        func take(_ ns: [NodeReport], upTo cap: Int) {
            for n in ns where chosen.count < cap { chosen.insert(n.name) }
        }
        take(writers, upTo: Int.max)
        // Notable nodes always show, within reason: a run with every node faulted still prints a short table.
        take(nodes.filter(isNotable), upTo: max(limit, chosen.count) + 5)
        let worstLost = readers.filter { $0.lost > 0 }.sorted { ($0.lost, $1.name) > ($1.lost, $0.name) }
        let worstP99 = readers.filter { $0.latency.count > 0 }
            .sorted { ($0.latency.p99Us, $1.name) > ($1.latency.p99Us, $0.name) }
        // Interleave the two rankings so both show when space is short.
        var i = 0
        while chosen.count < limit, i < max(worstLost.count, worstP99.count) {
            if i < worstLost.count { take([worstLost[i]], upTo: limit) }
            if i < worstP99.count { take([worstP99[i]], upTo: limit) }
            i += 1
        }
        let shown = nodes.filter { chosen.contains($0.name) }
        return (shown, nodes.count - shown.count)
    }

    // MARK: Series

    /// Per second: (t, the worst and the median run-queue wait over the fast readers, ms).
    var runQueueSeries: [(Double, Double, Double)] {
        var byT: [Int: [Double]] = [:]
        for n in readers where n.fast {
            for p in n.series { if let w = p.runQueueMs { byT[Int(p.t.rounded()), default: []].append(w) } }
        }
        return byT.keys.sorted().map { t in
            let w = byT[t]!.sorted()
            return (Double(t), w.last!, w[w.count / 2])
        }
    }

    struct RoleSeries {
        var role: String
        /// (t, worst p99 µs over the role's nodes at t)
        var p99: [(Double, Double)]
        /// (t, median p50 µs over the role's nodes at t)
        var p50: [(Double, Double)]
    }

    /// Per reader role, per second: the max of p99 and the median of p50 across
    /// the role's nodes. Intervals with no sample are left out.
    var roleSeries: [RoleSeries] {
        let byRole = Dictionary(grouping: readers, by: \.role.name)
        return byRole.keys.sorted().compactMap { role in
            var buckets: [Double: [SeriesPoint]] = [:]
            for n in byRole[role]! {
                for p in n.series where p.count > 0 && p.t.isFinite {
                    buckets[p.t.rounded(), default: []].append(p)
                }
            }
            guard !buckets.isEmpty else { return nil }
            let ts = buckets.keys.sorted()
            return RoleSeries(
                role: role,
                p99: ts.map { t in (t, buckets[t]!.map(\.p99Us).max() ?? 0) },
                p50: ts.map { t in (t, ReportView.median(buckets[t]!.map(\.p50Us))) })
        }
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    // MARK: Loss

    /// Readers with losses or skips, worst first (lost + skipped, then name), at most `limit`.
    func lossRanking(limit: Int = 40) -> (shown: [NodeReport], total: Int) {
        let hit = readers.filter { $0.lost > 0 || skipped($0) > 0 }.sorted {
            let a = $0.lost + skipped($0), b = $1.lost + skipped($1)
            return a != b ? a > b : NaturalOrder.less($0.name, $1.name)
        }
        return (Array(hit.prefix(limit)), hit.count)
    }

    // MARK: Resources

    /// The writer and the `readers` readers with the highest peak RSS, among nodes with samples.
    func resourceNodes(readers count: Int = 8) -> [NodeReport] {
        let sampled = nodes.filter { !($0.resources?.samples.isEmpty ?? true) }
        let w = sampled.filter { $0.role == .writer }
        let r = sampled.filter { $0.role != .writer }.sorted {
            let a = $0.resources!.peakRssMB, b = $1.resources!.peakRssMB
            return a != b ? a > b : NaturalOrder.less($0.name, $1.name)
        }
        return w + r.prefix(count)
    }

    // MARK: Convergence

    struct ConvergeRow {
        var node: String
        var event: ConvergeEvent
    }

    /// Every convergence event, slowest first.
    var convergeRows: [ConvergeRow] {
        nodes.flatMap { n in n.converge.map { ConvergeRow(node: n.name, event: $0) } }.sorted {
            if $0.event.millis != $1.event.millis { return $0.event.millis > $1.event.millis }
            if $0.node != $1.node { return NaturalOrder.less($0.node, $1.node) }
            return $0.event.atWallNs < $1.event.atWallNs
        }
    }

    // MARK: Faults

    /// Faults in the order they were planned.
    var faults: [FaultRecord] {
        report.faults.enumerated().sorted {
            $0.element.plannedAtSeconds != $1.element.plannedAtSeconds
                ? $0.element.plannedAtSeconds < $1.element.plannedAtSeconds : $0.offset < $1.offset
        }.map(\.element)
    }
}
