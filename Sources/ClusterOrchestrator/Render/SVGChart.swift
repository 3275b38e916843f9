import Foundation

// A small SVG chart kit for the HTML report: scales and ticks, a plot frame
// with axes, grid and legend, line charts with vertical markers, and
// horizontal stacked bar charts. Every piece of text is escaped here.

/// Accumulates SVG elements. Coordinates are rounded to 0.1 px to keep files small.
struct SVGCanvas {
    private(set) var body = ""

    static func num(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }

    mutating func raw(_ s: String) { body += s + "\n" }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, cls: String) {
        raw("<line class=\"\(cls)\" x1=\"\(Self.num(x1))\" y1=\"\(Self.num(y1))\" x2=\"\(Self.num(x2))\" y2=\"\(Self.num(y2))\"/>")
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, tooltip: String? = nil) {
        let shape = "<rect x=\"\(Self.num(x))\" y=\"\(Self.num(y))\" width=\"\(Self.num(max(0, w)))\" height=\"\(Self.num(max(0, h)))\" fill=\"\(esc(fill))\""
        if let tooltip { raw(shape + "><title>\(esc(tooltip))</title></rect>") } else { raw(shape + "/>") }
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ s: String, _ x: Double, _ y: Double, anchor: Anchor = .start, cls: String = "", rotate: Double? = nil) {
        let transform = rotate.map { " transform=\"rotate(\(Self.num($0)) \(Self.num(x)) \(Self.num(y)))\"" } ?? ""
        let klass = cls.isEmpty ? "" : " class=\"\(cls)\""
        raw("<text\(klass) x=\"\(Self.num(x))\" y=\"\(Self.num(y))\" text-anchor=\"\(anchor.rawValue)\"\(transform)>\(esc(s))</text>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, dashed: Bool, width: Double = 1.6, clip: String?) {
        guard points.count > 1 else {
            if let p = points.first {  // a lone point still shows
                raw("<circle cx=\"\(Self.num(p.0))\" cy=\"\(Self.num(p.1))\" r=\"2.2\" fill=\"\(esc(stroke))\"/>")
            }
            return
        }
        let coords = points.map { "\(Self.num($0.0)),\(Self.num($0.1))" }.joined(separator: " ")
        let dash = dashed ? " stroke-dasharray=\"5 3\"" : ""
        let clipAttr = clip.map { " clip-path=\"url(#\($0))\"" } ?? ""
        raw("<polyline fill=\"none\" stroke=\"\(esc(stroke))\" stroke-width=\"\(Self.num(width))\"\(dash)\(clipAttr) points=\"\(coords)\"/>")
    }
}

/// A tick on an axis: its value (in the scale's domain) and its label.
struct Tick {
    var value: Double
    var label: String
}

/// Maps a domain to pixels, linearly or by log10.
struct Scale {
    enum Kind { case linear, log }

    var kind: Kind
    var lo: Double
    var hi: Double
    /// Pixel positions of `lo` and `hi`.
    var from: Double = 0
    var to: Double = 1

    private func t(_ v: Double) -> Double {
        switch kind {
        case .linear: return v
        case .log: return log10(max(v, lo, 1e-12))
        }
    }

    /// The pixel of a value, clamped to the range.
    func callAsFunction(_ v: Double) -> Double {
        let a = t(lo), b = t(hi)
        guard b > a, v.isFinite else { return from }
        let f = min(1, max(0, (t(v) - a) / (b - a)))
        return from + f * (to - from)
    }
}

/// An axis: title, scale kind and domain, and its ticks.
struct Axis {
    var title: String
    var kind: Scale.Kind
    var lo: Double
    var hi: Double
    var ticks: [Tick]

    /// A linear axis from `lo` to a "nice" top above `hi`, with about `count` ticks.
    static func linear(_ title: String, lo: Double = 0, hi: Double, count: Int = 6, format: (Double) -> String) -> Axis {
        let top = hi > lo ? hi : lo + 1
        let step = niceStep((top - lo) / Double(max(1, count)))
        let first = (lo / step).rounded(.down) * step
        let last = (top / step).rounded(.up) * step
        var ticks: [Tick] = []
        var v = first
        while v <= last + step / 2 {
            ticks.append(Tick(value: v, label: format(abs(v) < step / 1e6 ? 0 : v)))
            v += step
        }
        return Axis(title: title, kind: .linear, lo: first, hi: last, ticks: ticks)
    }

    /// A log axis over whole decades covering `lo`…`hi`, ticked at 1, 2, 5 × 10ⁿ when few decades.
    static func log(_ title: String, lo: Double, hi: Double, format: (Double) -> String) -> Axis {
        let l = lo > 0 ? lo : 1
        let a = floor(log10(l)), b = max(ceil(log10(max(hi, l))), a + 1)
        let mults: [Double] = b - a <= 3 ? [1, 2, 5] : [1]
        var ticks: [Tick] = []
        var e = a
        while e <= b {
            for m in mults {
                let v = m * pow(10, e)
                if v <= pow(10, b) * 1.0001 { ticks.append(Tick(value: v, label: format(v))) }
            }
            e += 1
        }
        return Axis(title: title, kind: .log, lo: pow(10, a), hi: pow(10, b), ticks: ticks)
    }

    /// Log when the positive values span more than two decades, linear from zero otherwise.
    static func auto(_ title: String, values: [Double], format: (Double) -> String) -> Axis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        guard let mn = positive.min(), let mx = positive.max() else {
            return .linear(title, hi: 1, format: format)
        }
        return mx / mn > 100 ? .log(title, lo: mn, hi: mx, format: format) : .linear(title, hi: mx, format: format)
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = pow(10, floor(log10(raw)))
        let f = raw / p
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p
    }
}

/// One entry of a legend.
struct LegendItem {
    enum Swatch { case line(dashed: Bool), box }
    var label: String
    var color: String
    var swatch: Swatch
}

/// The categorical palette (colour-blind friendly, Okabe–Ito and Tableau mix).
enum Palette {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                         "#7f7f7f", "#bcbd22"]
    static func color(_ i: Int) -> String { colors[i % colors.count] }
    static let lost = "#d62728"
    static let skipped = "#ff9f1c"
}

/// The frame all charts share: an SVG of a given size with a plot area, a
/// legend row on top, axis titles, and grid lines for the ticks.
struct ChartFrame {
    var id: String
    var title: String
    var width: Double = 1100
    var height: Double
    var left: Double = 72
    var right: Double = 24
    var top: Double = 34
    var bottom: Double = 46

    var plotX: Double { left }
    var plotY: Double { top }
    var plotW: Double { width - left - right }
    var plotH: Double { height - top - bottom }
    var clipID: String { "\(id)-clip" }

    /// The height the legend rows take above the plot.
    static func legendHeight(_ items: [LegendItem], width: Double, left: Double) -> Double {
        layoutLegend(items, width: width, left: left).rows * 16
    }

    private static func layoutLegend(_ items: [LegendItem], width: Double, left: Double)
        -> (positions: [(Double, Double)], rows: Double) {
        var x = left, row = 0.0, positions: [(Double, Double)] = []
        for item in items {
            let w = 28 + Double(item.label.count) * 6.4 + 14
            if x + w > width - 10, x > left { x = left; row += 1 }
            positions.append((x, row))
            x += w
        }
        return (positions, items.isEmpty ? 0 : row + 1)
    }

    /// Draws the legend: a row of swatches and labels above the plot, wrapping when full.
    func drawLegend(_ items: [LegendItem], into c: inout SVGCanvas) {
        let layout = ChartFrame.layoutLegend(items, width: width, left: left)
        for (item, (x, row)) in zip(items, layout.positions) {
            let y = 14 + row * 16
            switch item.swatch {
            case .line(let dashed):
                c.raw("<line x1=\"\(SVGCanvas.num(x))\" y1=\"\(SVGCanvas.num(y - 4))\" x2=\"\(SVGCanvas.num(x + 22))\" y2=\"\(SVGCanvas.num(y - 4))\" stroke=\"\(esc(item.color))\" stroke-width=\"2.2\"\(dashed ? " stroke-dasharray=\"5 3\"" : "")/>")
            case .box:
                c.rect(x + 6, y - 10, 12, 10, fill: item.color)
            }
            c.text(item.label, x + 27, y, cls: "lg")
        }
    }

    /// Wraps drawn content into the `<svg>` element (styled by the page's CSS classes).
    func svg(_ content: SVGCanvas) -> String {
        """
        <svg id="\(esc(id))" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(SVGCanvas.num(width)) \(SVGCanvas.num(height))" role="img" aria-label="\(esc(title))">
        <title>\(esc(title))</title>
        <defs><clipPath id="\(esc(clipID))"><rect x="\(SVGCanvas.num(plotX))" y="\(SVGCanvas.num(plotY))" width="\(SVGCanvas.num(plotW))" height="\(SVGCanvas.num(plotH))"/></clipPath></defs>
        \(content.body)</svg>
        """
    }

    /// Vertical grid lines and labels for x ticks, with the axis title below.
    func drawXAxis(_ axis: Axis, scale: Scale, into c: inout SVGCanvas) {
        for t in axis.ticks {
            let x = scale(t.value)
            c.line(x, plotY, x, plotY + plotH, cls: "grid")
            c.text(t.label, x, plotY + plotH + 15, anchor: .middle, cls: "tick")
        }
        c.line(plotX, plotY + plotH, plotX + plotW, plotY + plotH, cls: "axis")
        c.text(axis.title, plotX + plotW / 2, height - 8, anchor: .middle, cls: "atitle")
    }

    /// Horizontal grid lines and labels for y ticks, with the rotated axis title on the left.
    func drawYAxis(_ axis: Axis, scale: Scale, into c: inout SVGCanvas) {
        for t in axis.ticks {
            let y = scale(t.value)
            c.line(plotX, y, plotX + plotW, y, cls: "grid")
            c.text(t.label, plotX - 6, y + 4, anchor: .end, cls: "tick")
        }
        c.line(plotX, plotY, plotX, plotY + plotH, cls: "axis")
        c.text(axis.title, 14, plotY + plotH / 2, anchor: .middle, cls: "atitle", rotate: -90)
    }
}

/// A line chart with numeric axes and optional vertical markers (faults).
struct LineChart {
    struct Series {
        var name: String
        var color: String
        var points: [(Double, Double)]
        var dashed = false
        /// Break the line where consecutive x values are further apart than this.
        var breakOver: Double? = nil
        /// Whether the series gets its own legend entry.
        var inLegend = true
    }

    struct Marker {
        var x: Double
        var label: String
    }

    var id: String
    var title: String
    var x: Axis
    var y: Axis
    var series: [Series]
    var markers: [Marker] = []
    /// Extra legend entries (e.g. explaining line styles).
    var extraLegend: [LegendItem] = []
    var height: Double = 360

    func render() -> String {
        let legend = series.filter(\.inLegend).map { LegendItem(label: $0.name, color: $0.color, swatch: .line(dashed: $0.dashed)) }
            + extraLegend
        var frame = ChartFrame(id: id, title: title, height: height)
        frame.top = 18 + ChartFrame.legendHeight(legend, width: frame.width, left: frame.left)
        frame.height = height + frame.top
        var c = SVGCanvas()
        let xs = Scale(kind: x.kind, lo: x.lo, hi: x.hi, from: frame.plotX, to: frame.plotX + frame.plotW)
        let ys = Scale(kind: y.kind, lo: y.lo, hi: y.hi, from: frame.plotY + frame.plotH, to: frame.plotY)
        frame.drawLegend(legend, into: &c)
        frame.drawXAxis(x, scale: xs, into: &c)
        frame.drawYAxis(y, scale: ys, into: &c)
        for s in series {
            for segment in segments(s) {
                c.polyline(segment.map { (xs($0.0), ys($0.1)) }, stroke: s.color, dashed: s.dashed, clip: frame.clipID)
            }
        }
        for (i, m) in markers.enumerated() {
            let px = xs(m.x)
            c.line(px, frame.plotY, px, frame.plotY + frame.plotH, cls: "marker")
            // Stagger labels over three rows so close faults stay readable; flip left near the right edge.
            let ly = frame.plotY + 12 + Double(i % 3) * 13
            let nearRight = px > frame.plotX + frame.plotW - 160
            c.text(m.label, nearRight ? px - 4 : px + 4, ly, anchor: nearRight ? .end : .start, cls: "mlabel")
        }
        return frame.svg(c)
    }

    private func segments(_ s: Series) -> [[(Double, Double)]] {
        let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
        guard let gap = s.breakOver else { return [pts] }
        var out: [[(Double, Double)]] = [[]]
        for p in pts {
            if let last = out[out.count - 1].last, p.0 - last.0 > gap { out.append([]) }
            out[out.count - 1].append(p)
        }
        return out
    }
}

/// Horizontal stacked bars, one row per category.
struct BarChart {
    struct Stack {
        var name: String
        var color: String
        var values: [Double]
    }

    var id: String
    var title: String
    var categories: [String]
    var stacks: [Stack]
    var valueTitle: String
    var format: (Double) -> String
    var rowHeight: Double = 18

    func render() -> String {
        let legend = stacks.map { LegendItem(label: $0.name, color: $0.color, swatch: .box) }
        let longest = categories.map { min($0.count, 28) }.max() ?? 4
        var frame = ChartFrame(id: id, title: title, height: 0)
        frame.left = max(72, 16 + Double(longest) * 6.6)
        frame.right = 90
        frame.top = 22 + ChartFrame.legendHeight(legend, width: frame.width, left: frame.left)
        frame.height = frame.top + Double(categories.count) * rowHeight + frame.bottom
        let totals = categories.indices.map { i in stacks.reduce(0) { $0 + ($1.values.indices.contains(i) ? $1.values[i] : 0) } }
        let axis = Axis.linear(valueTitle, hi: totals.max() ?? 1, format: format)
        let xs = Scale(kind: .linear, lo: axis.lo, hi: axis.hi, from: frame.plotX, to: frame.plotX + frame.plotW)
        var c = SVGCanvas()
        frame.drawLegend(legend, into: &c)
        frame.drawXAxis(axis, scale: xs, into: &c)
        c.line(frame.plotX, frame.plotY, frame.plotX, frame.plotY + frame.plotH, cls: "axis")
        for (i, name) in categories.enumerated() {
            let y = frame.plotY + Double(i) * rowHeight
            c.text(Fmt.truncate(name, 28), frame.plotX - 6, y + rowHeight * 0.7, anchor: .end, cls: "tick")
            var acc = 0.0
            var parts: [String] = []
            for s in stacks {
                let v = s.values.indices.contains(i) ? s.values[i] : 0
                guard v > 0 else { continue }
                // At least 2 px, so a handful of losses next to thousands still shows.
                c.rect(xs(acc), y + 2, max(2, xs(acc + v) - xs(acc)), rowHeight - 4, fill: s.color,
                       tooltip: "\(name): \(s.name) \(format(v))")
                acc += v
                parts.append(format(v))
            }
            c.text(parts.joined(separator: " + "), xs(acc) + 5, y + rowHeight * 0.7, cls: "tick")
        }
        return frame.svg(c)
    }
}
