import Foundation

/// Pieces of the self-contained HTML pages of `sweep` and `compare`: the
/// run report's style sheet and table sorting, plus tables whose cells may
/// link to a run's report. No page refers to anything outside itself but
/// the run directories it links to, by relative paths.
enum PageKit {
    typealias Cell = TableCell

    static let extraCSS = """
        td.better{color:#15803d;font-weight:700}td.worse{color:#b91c1c;font-weight:700}td.same{color:#6b7280}
        .warning{background:#fef3c7;border:1px solid #f59e0b;padding:6px 10px;border-radius:6px}
        .warning ul{margin:4px 0 0;padding-left:20px}
        svg a circle{cursor:pointer}svg .limit{stroke:#b91c1c;stroke-width:1.2;stroke-dasharray:6 4}
        svg .llabel{font-size:11px;fill:#b91c1c;paint-order:stroke;stroke:#fff;stroke-width:3px}
        svg .knee{stroke:#15803d;stroke-width:1.6;stroke-dasharray:3 3}
        svg .klabel{font-size:11.5px;fill:#15803d;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
        h3{font-size:15px;margin:18px 0 6px}.scroll{overflow-x:auto}
        """

    static func page(title: String, body: [String]) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(title))</title>
        <style>\(HTMLReport.css)
        \(extraCSS)</style>
        </head>
        <body>
        <main>
        \(body.joined(separator: "\n"))
        </main>
        <script>\(HTMLReport.sortScript)</script>
        </body>
        </html>

        """
    }

    /// `2026-12-02 10:21:40 UTC`.
    static func isoTime(ns: UInt64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(ns) / 1e9))
    }

    static func section(_ title: String, id: String, _ content: String) -> String {
        "<section id=\"\(esc(id))\">\n<h2>\(esc(title))</h2>\n\(content)\n</section>"
    }

    static func note(_ text: String) -> String {
        "<p class=\"note\">\(esc(text))</p>"
    }

    static func table(_ id: String, _ columns: [(title: String, numeric: Bool)], _ rows: [[Cell]]) -> String {
        HTMLTable.render(id, columns, rows, scrolling: true)
    }
}

/// A chart of figures against a parameter: one line per series through
/// its points' medians, a dot per run (filled when it met the SLOs, linked
/// to its report), dashed horizontal SLO limits and vertical knee markers.
struct ParameterChart {
    struct Dot {
        var x: Double
        var y: Double
        var passed: Bool
        var href: String?
        var tooltip: String
    }

    struct Series {
        var name: String
        var color: String
        /// The line: (x, median y), drawn in x order.
        var line: [(Double, Double)]
        var dots: [Dot]
        var dashed = false
    }

    struct Limit {
        var y: Double
        var label: String
    }

    struct Knee {
        var x: Double
        var label: String
    }

    var id: String
    var title: String
    var x: Axis
    var y: Axis
    var series: [Series]
    var limits: [Limit] = []
    var knees: [Knee] = []
    var extraLegend: [LegendItem] = []
    var height: Double = 320

    func render() -> String {
        let legend = series.map { LegendItem(label: $0.name, color: $0.color, swatch: .line(dashed: $0.dashed)) } + extraLegend
        var frame = ChartFrame(id: id, title: title, height: height)
        frame.top = 18 + ChartFrame.legendHeight(legend, width: frame.width, left: frame.left)
        frame.height = height + frame.top
        var c = SVGCanvas()
        let xs = Scale(kind: x.kind, lo: x.lo, hi: x.hi, from: frame.plotX, to: frame.plotX + frame.plotW)
        let ys = Scale(kind: y.kind, lo: y.lo, hi: y.hi, from: frame.plotY + frame.plotH, to: frame.plotY)
        frame.drawLegend(legend, into: &c)
        frame.drawXAxis(x, scale: xs, into: &c)
        frame.drawYAxis(y, scale: ys, into: &c)
        for l in limits {
            let py = ys(l.y)
            c.line(frame.plotX, py, frame.plotX + frame.plotW, py, cls: "limit")
            c.text(l.label, frame.plotX + frame.plotW - 4, py - 4, anchor: .end, cls: "llabel")
        }
        for (i, k) in knees.enumerated() {
            let px = xs(k.x)
            c.line(px, frame.plotY, px, frame.plotY + frame.plotH, cls: "knee")
            let nearRight = px > frame.plotX + frame.plotW - 200
            c.text(k.label, nearRight ? px - 5 : px + 5, frame.plotY + 14 + Double(i % 3) * 14, anchor: nearRight ? .end : .start, cls: "klabel")
        }
        for s in series {
            let pts = s.line.filter { $0.0.isFinite && $0.1.isFinite }.sorted { $0.0 < $1.0 }
            if pts.count > 1 {
                c.polyline(pts.map { (xs($0.0), ys($0.1)) }, stroke: s.color, dashed: s.dashed, clip: frame.clipID)
            }
            for d in s.dots where d.x.isFinite && d.y.isFinite {
                let fill = d.passed ? s.color : "#fff"
                let circle = "<circle cx=\"\(SVGCanvas.num(xs(d.x)))\" cy=\"\(SVGCanvas.num(ys(d.y)))\" r=\"3.6\" fill=\"\(esc(fill))\" stroke=\"\(esc(s.color))\" stroke-width=\"1.6\"><title>\(esc(d.tooltip))</title></circle>"
                c.raw(d.href.map { "<a href=\"\(esc($0))\">\(circle)</a>" } ?? circle)
            }
        }
        return frame.svg(c)
    }

    /// The x axis for a parameter's values: numbers on a linear axis, or a
    /// log axis when they span a factor of ten or more; text as evenly spaced categories.
    static func xAxis(_ title: String, numbers: [Double]?, categories: [String]) -> Axis {
        if let numbers, let lo = numbers.min(), let hi = numbers.max() {
            if lo > 0, hi / lo >= 100 || (hi / lo >= 4 && isGeometric(numbers)) {
                let a = lo / 1.25, b = hi * 1.25
                var ticks: [Tick] = []
                var e = floor(log10(a))
                while pow(10, e) <= b {
                    for m in [1.0, 2, 5] {
                        let v = m * pow(10, e)
                        if v >= a, v <= b { ticks.append(Tick(value: v, label: Fmt.number(v))) }
                    }
                    e += 1
                }
                return Axis(title: title, kind: .log, lo: a, hi: b, ticks: ticks)
            }
            let span = hi - lo
            let from = lo >= 0 && lo <= span ? 0 : lo - max(span * 0.08, abs(lo) * 0.05)
            return .linear(title, lo: from, hi: hi + max(span * 0.05, abs(hi) * 0.02, 1e-9), count: 8, format: Fmt.number)
        }
        let ticks = categories.enumerated().map { Tick(value: Double($0.offset), label: $0.element) }
        return Axis(title: title, kind: .linear, lo: -0.5, hi: Double(categories.count) - 0.5, ticks: ticks)
    }

    /// Whether sorted values grow by about the same factor each step (a geometric range).
    static func isGeometric(_ values: [Double]) -> Bool {
        let v = Array(Set(values)).sorted()
        guard v.count >= 3, v[0] > 0 else { return false }
        let ratios = zip(v.dropFirst(), v).map { $0 / $1 }
        guard let lo = ratios.min(), let hi = ratios.max() else { return false }
        return hi / lo < 1.25
    }
}
