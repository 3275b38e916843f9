import ClusterCore
import Foundation

/// Renders a ``Comparison`` as the terminal tables and as a self-contained HTML page.
public enum CompareRenderer {
    public static func text(_ c: Comparison) -> String {
        var out = "compare\n  A  \(c.a)\n  B  \(c.b)\n  \(rule(c))\n"
        if !c.warnings.isEmpty {
            out += "\nWARNING: A and B differ in these settings; a difference below may come from them rather than from the change you meant to measure:\n"
            out += c.warnings.map { "  \($0)\n" }.joined()
        }
        for t in c.tables {
            var table = TextTable([.init("metric", .left), .init("A"), .init("B"), .init("change"), .init("95 % interval"),
                                   .init("verdict", .left), .init("samples", .left)])
            for r in t.rows {
                table.add([r.metric, value(r.a, r.unit), value(r.b, r.unit), percent(r.change), interval(r),
                           verdictWord(r.verdict), r.basis])
            }
            out += "\n\(t.title)\n" + table.render()
        }
        out += "\n" + resultLine(c) + "\n"
        return out
    }

    static func rule(_ c: Comparison) -> String {
        "threshold \(Fmt.number(c.threshold * 100)) %: a row is better or worse when the whole \(Fmt.number(c.level * 100)) % interval of its change lies beyond ±\(Fmt.number(c.threshold * 100)) % (bootstrap, \(Fmt.count(c.replicates)) replicates, seeded)"
    }

    static func resultLine(_ c: Comparison) -> String {
        var parts = ["\(c.worse) row\(c.worse == 1 ? "" : "s") worse", "\(c.better) better", "\(c.same) without a significant difference"]
        if c.untested > 0 { parts.append("\(c.untested) not tested (too few samples)") }
        return "result: " + parts.joined(separator: ", ") + (c.warnings.isEmpty ? "" : "; the settings differ (see the warning)")
    }

    static func verdictWord(_ v: CompareVerdict) -> String {
        switch v {
        case .better: "BETTER"
        case .worse: "WORSE"
        case .same: "no significant difference"
        case .untested: "not tested"
        }
    }

    static func value(_ v: Double?, _ unit: String) -> String {
        guard let v else { return "-" }
        switch unit {
        case "µs": return Fmt.latency(us: v)
        case "messages": return Fmt.count(Int64(v.rounded()))
        case "%": return Fmt.percent(v)
        case "MB": return Fmt.mb(v)
        default: return Fmt.number(v)
        }
    }

    static func percent(_ v: Double?) -> String {
        guard let v else { return "-" }
        if v.isInfinite { return v > 0 ? "+inf" : "-inf" }
        if v.isNaN { return "-" }
        return (v >= 0 ? "+" : "") + Fmt.fixed(v * 100, 1) + " %"
    }

    static func interval(_ r: CompareRow) -> String {
        guard let lo = r.intervalLow, let hi = r.intervalHigh else { return "-" }
        return "\(percent(lo)) … \(percent(hi))"
    }

    // MARK: HTML

    public static func html(_ c: Comparison) -> String {
        var body: [String] = []
        let badge = c.worse > 0 ? "fail" : "pass"
        var header = """
            <header>
            <h1>ClusterSim compare <span class="badge \(badge)">\(c.worse > 0 ? "WORSE" : "NO REGRESSION")</span></h1>
            <p class="result">\(esc(resultLine(c)))</p>
            <dl class="facts"><div><dt>A</dt><dd>\(esc(c.a))</dd></div><div><dt>B</dt><dd>\(esc(c.b))</dd></div>
            <div><dt>rule</dt><dd>\(esc(rule(c)))</dd></div></dl>
            """
        if !c.warnings.isEmpty {
            header += "\n<div class=\"warning\"><strong>A and B differ in these settings</strong>; a difference below may come from them rather than from the change you meant to measure:<ul>"
                + c.warnings.map { "<li>\(esc($0))</li>" }.joined() + "</ul></div>"
        }
        body.append(header + "\n</header>")
        for (i, t) in c.tables.enumerated() {
            let rows = t.rows.map { r -> [PageKit.Cell] in
                let cls: String = switch r.verdict {
                case .better: "better"
                case .worse: "worse"
                case .same, .untested: "same"
                }
                return [PageKit.Cell(r.metric), PageKit.Cell(value(r.a, r.unit), r.a), PageKit.Cell(value(r.b, r.unit), r.b),
                        PageKit.Cell(percent(r.change), r.change), PageKit.Cell(interval(r), r.intervalLow),
                        PageKit.Cell(verdictWord(r.verdict), cls: cls), PageKit.Cell(r.basis)]
            }
            body.append(PageKit.section(t.title, id: "table-\(i)", PageKit.table("compare-\(i)", [
                ("metric", false), ("A", true), ("B", true), ("change", true), ("95 % interval", true), ("verdict", false), ("samples", false),
            ], rows)))
        }
        body.append(PageKit.section("How the verdict is made", id: "method", PageKit.note("""
            Each row's interval is a bootstrap interval of the relative change of the row's statistic (the median of its \
            samples; the mean for losses and skips), resampling each run's per-second series in blocks of about the cube root \
            of its length, per-reader figures one by one, and the runs themselves when a side has several. A row is better or \
            worse only when the whole interval lies beyond the threshold; the A and B columns are the reports' own figures. \
            See docs/capacity.md.
            """)))
        body.append("<footer>orchestrator compare</footer>")
        return PageKit.page(title: "ClusterSim compare: \(c.worse) worse", body: body)
    }
}
