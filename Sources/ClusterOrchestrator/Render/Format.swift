import Foundation

/// Number and text formatting shared by the text summary and the HTML report.
///
/// Everything here is locale-independent so the output of a report is the
/// same on every machine.
enum Fmt {
    /// An integer with thousands separators: 1234567 → "1,234,567".
    static func count<T: BinaryInteger>(_ n: T) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// A fixed number of decimals; "-" for NaN or infinity.
    static func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return "-" }
        return String(format: "%.\(decimals)f", v)
    }

    /// A latency given in microseconds, in the unit that reads best:
    /// "850 µs", "1.234 ms", "12.35 ms", "123.5 ms", "1.234 s".
    static func latency(us: Double) -> String {
        guard us.isFinite else { return "-" }
        if us < 1_000 { return "\(fixed(us, 0)) µs" }
        let ms = us / 1_000
        if ms < 10 { return "\(fixed(ms, 3)) ms" }
        if ms < 100 { return "\(fixed(ms, 2)) ms" }
        if ms < 1_000 { return "\(fixed(ms, 1)) ms" }
        return "\(fixed(ms / 1_000, 3)) s"
    }

    /// A latency, or "-" when nothing was measured.
    static func latency(us: Double, measured: Bool) -> String {
        measured ? latency(us: us) : "-"
    }

    /// Seconds with millisecond precision: "10.012 s".
    static func seconds(_ s: Double?) -> String {
        guard let s, s.isFinite else { return "-" }
        return "\(fixed(s, 3)) s"
    }

    /// Megabytes with one decimal.
    static func mb(_ v: Double?) -> String {
        guard let v else { return "-" }
        return fixed(v, 1)
    }

    /// A percentage with one decimal.
    static func percent(_ v: Double?) -> String {
        guard let v else { return "-" }
        return fixed(v, 1)
    }

    /// A rate per second: integers keep thousands separators, others one decimal.
    static func rate(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        if v == v.rounded(), abs(v) < 1e15 { return count(Int64(v)) }
        return fixed(v, 1)
    }

    /// A general measured value (SLO limits and measurements): integers plainly,
    /// others with up to three decimals and no trailing zeros.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "-" : (v > 0 ? "inf" : "-inf") }
        if v == v.rounded(), abs(v) < 1e15 { return count(Int64(v)) }
        var s = fixed(v, 3)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A value followed by its unit when there is one.
    static func withUnit(_ v: Double, _ unit: String) -> String {
        unit.isEmpty ? number(v) : "\(number(v)) \(unit)"
    }

    /// Shortens a string to at most `max` characters, marking the cut with "…".
    static func truncate(_ s: String, _ max: Int) -> String {
        s.count <= max ? s : String(s.prefix(Swift.max(0, max - 1))) + "…"
    }
}

/// Orders names the way people count: "cli-2" before "cli-10".
enum NaturalOrder {
    static func less(_ a: String, _ b: String) -> Bool {
        let ca = chunks(a), cb = chunks(b)
        for (x, y) in zip(ca, cb) where x != y {
            switch (x, y) {
            case let (.number(m), .number(n)): if m != n { return m < n }
            case let (.text(s), .text(t)): return s < t
            case (.number, .text): return true
            case (.text, .number): return false
            }
        }
        if ca.count != cb.count { return ca.count < cb.count }
        return a < b
    }

    private enum Chunk: Equatable {
        case text(String)
        case number(Double)
    }

    private static func chunks(_ s: String) -> [Chunk] {
        var out: [Chunk] = []
        var current = ""
        var inDigits = false
        func flush() {
            guard !current.isEmpty else { return }
            out.append(inDigits ? .number(Double(current) ?? 0) : .text(current))
            current = ""
        }
        for c in s {
            let digit = c.isASCII && c.isNumber
            if digit != inDigits { flush(); inDigits = digit }
            current.append(c)
        }
        flush()
        return out
    }
}
