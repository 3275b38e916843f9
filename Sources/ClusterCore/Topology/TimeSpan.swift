/// A non-negative length of time, written in topology files as a number and
/// a unit: `"500us"`, `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`.
///
/// `TimeSpan` encodes and decodes as that string. Its ``description`` is the
/// canonical form: the largest unit that holds the value exactly, so
/// `TimeSpan(parsing: span.description) == span` always holds.
public struct TimeSpan: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The length in nanoseconds.
    public var nanoseconds: UInt64

    /// Creates a span of `nanoseconds`.
    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// A span of zero length.
    public static let zero = TimeSpan(nanoseconds: 0)

    /// The units a duration string may use, smallest first, with their length
    /// in nanoseconds.
    static let units: [(suffix: String, nanoseconds: UInt64)] = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ]

    /// The accepted forms, for error messages.
    static let acceptedForms =
        #"a number and a unit: ns, us, ms, s, m, h (e.g. "500us", "250ms", "1.5s", "2m")"#

    /// A span of `value` microseconds, rounded to the nanosecond; negative values become zero.
    public static func microseconds(_ value: Double) -> TimeSpan {
        TimeSpan(scaling: value, by: 1e3)
    }

    /// A span of `value` milliseconds, rounded to the nanosecond; negative values become zero.
    public static func milliseconds(_ value: Double) -> TimeSpan {
        TimeSpan(scaling: value, by: 1e6)
    }

    /// A span of `value` seconds, rounded to the nanosecond; negative values become zero.
    public static func seconds(_ value: Double) -> TimeSpan {
        TimeSpan(scaling: value, by: 1e9)
    }

    /// A span of `value` minutes, rounded to the nanosecond; negative values become zero.
    public static func minutes(_ value: Double) -> TimeSpan {
        TimeSpan(scaling: value, by: 60e9)
    }

    private init(scaling value: Double, by factor: Double) {
        let ns = (value * factor).rounded()
        if ns.isNaN || ns <= 0 {
            self.init(nanoseconds: 0)
        } else if ns >= Double(UInt64.max) {
            self.init(nanoseconds: .max)
        } else {
            self.init(nanoseconds: UInt64(ns))
        }
    }

    /// Parses a duration string such as `"250ms"` or `"1.5s"`.
    ///
    /// - Parameter text: digits, an optional fraction, and one of the units
    ///   `ns`, `us`, `ms`, `s`, `m`, `h`, with no space between them.
    /// - Throws: ``TimeSpan/ParseError`` when there is no unit, the number is
    ///   negative or malformed, or the value does not fit; its message lists the
    ///   accepted forms.
    public init(parsing text: String) throws(ParseError) {
        guard let unitStart = text.firstIndex(where: { $0.isLetter }) else {
            throw ParseError(text: text, reason: "no unit")
        }
        let number = text[..<unitStart]
        let suffix = text[unitStart...]
        guard let unit = Self.units.first(where: { $0.suffix == suffix }) else {
            throw ParseError(text: text, reason: nil)
        }
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
              parts.count == 1 || !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit),
              fraction.count <= 18
        else {
            throw ParseError(text: text, reason: number.hasPrefix("-") ? "negative" : nil)
        }
        guard let wholeValue = UInt64(whole) else {
            throw ParseError(text: text, reason: "too large")
        }
        let (scaled, overflow) = wholeValue.multipliedReportingOverflow(by: unit.nanoseconds)
        var total = scaled
        var tooLarge = overflow
        if !fraction.isEmpty, let fractionValue = UInt64(fraction) {
            // fraction / 10^digits × unit, rounded to the nanosecond, exactly.
            var denominator: UInt64 = 1
            for _ in 0..<fraction.count { denominator *= 10 }
            let product = fractionValue.multipliedFullWidth(by: unit.nanoseconds)
            let (quotient, remainder) = denominator.dividingFullWidth(product)
            let rounded = quotient + (remainder >= denominator - remainder ? 1 : 0)
            let (sum, sumOverflow) = total.addingReportingOverflow(rounded)
            total = sum
            tooLarge = tooLarge || sumOverflow
        }
        if tooLarge {
            throw ParseError(text: text, reason: "too large")
        }
        self.init(nanoseconds: total)
    }

    /// Why a duration string was rejected.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The rejected text.
        public let text: String
        /// A short reason ("no unit", "negative", "too large"), or nil when the text is malformed.
        public let reason: String?

        public var description: String {
            let what = reason.map { " (\($0))" } ?? ""
            return "\(jsonQuoted(text)) is not a duration\(what), expected \(TimeSpan.acceptedForms)"
        }
    }

    /// The span in seconds.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// The span in milliseconds.
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }

    /// The span as a standard-library `Duration`.
    public var duration: Duration {
        .nanoseconds(Int64(clamping: nanoseconds))
    }

    /// The canonical string: the largest unit that holds the span exactly.
    public var description: String {
        if nanoseconds == 0 { return "0s" }
        for unit in Self.units.reversed() where nanoseconds % unit.nanoseconds == 0 {
            return "\(nanoseconds / unit.nanoseconds)\(unit.suffix)"
        }
        return "\(nanoseconds)ns"
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// The sum of two spans, saturating at the largest representable span.
    public static func + (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return TimeSpan(nanoseconds: overflow ? .max : sum)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
