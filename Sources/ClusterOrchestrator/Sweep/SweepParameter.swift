import ClusterCore
import Foundation

/// One varied parameter of a sweep: a path in the topology file and the
/// values it takes, from `--vary PATH=VALUES`.
///
/// VALUES is a comma-separated list whose items are single values or ranges:
///
/// - `1000,2000,5000`, `drop,conflate,resync`, `2s,5s`: the values themselves
///   (numbers as JSON writes them, `true`/`false`, anything else a string;
///   `"123"` in double quotes is the string 123);
/// - `1000..16000*2`: geometric, START × FACTORⁿ up to END (1000, 2000, 4000,
///   8000, 16000); FACTOR > 1, START > 0;
/// - `10..100+10`: arithmetic, START + n × STEP up to END; STEP > 0.
///
/// END is included when a step lands on it. A geometric range whose START
/// and END are whole numbers gives whole numbers (rounded, repeats dropped:
/// `1..10*1.5` is 1, 2, 3, 5, 8), as does an arithmetic range whose START
/// and STEP are. Values repeated in the list are run once.
public struct SweepParameter: Sendable, Hashable {
    /// The most values one parameter may take.
    public static let maxValues = 100

    public var path: TopologyPath
    public var values: [TopologyValue]

    public init(path: TopologyPath, values: [TopologyValue]) {
        self.path = path
        self.values = values
    }

    /// Parses `PATH=VALUES`.
    /// - Parameter option: the option's name for messages (`--vary`).
    /// - Throws: ``SweepError`` (`badOption`) naming the option, the part
    ///   that cannot be read, and what was expected.
    public static func parse(_ text: String, option: String = "--vary") throws(SweepError) -> SweepParameter {
        func fail(_ message: String) -> SweepError {
            SweepError(.badOption, "\(option) \(text): \(message)")
        }
        guard let eq = text.firstIndex(of: "=") else {
            throw fail("found no '=', expected PATH=VALUES, e.g. writer.rate=1000,2000 or readers[0].count=10..100+10")
        }
        let pathText = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let valuesText = String(text[text.index(after: eq)...])
        let path: TopologyPath
        do {
            path = try TopologyPath(parsing: pathText)
        } catch {
            throw fail("\(error)")
        }
        let values = try parseValues(valuesText, fail: fail)
        return SweepParameter(path: path, values: values)
    }

    /// The values of a VALUES list, duplicates dropped, in order.
    static func parseValues(_ text: String, fail: (String) -> SweepError) throws(SweepError) -> [TopologyValue] {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail("no values after '=', expected a list such as 1000,2000 or a range such as 1000..16000*2")
        }
        var out: [TopologyValue] = []
        var seen = Set<TopologyValue>()
        for (i, raw) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let item = raw.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else {
                throw fail("value \(i + 1) of the list is empty, expected a value between the commas")
            }
            let values = item.contains("..") ? try range(item, fail: fail) : [TopologyValue(commandLine: item)]
            for v in values where seen.insert(v).inserted {
                out.append(v)
                guard out.count <= maxValues else {
                    throw fail("more than \(maxValues) values, expected at most \(maxValues) (a larger step or factor)")
                }
            }
        }
        return out
    }

    /// The values of `START..END*FACTOR` or `START..END+STEP`.
    static func range(_ item: String, fail: (String) -> SweepError) throws(SweepError) -> [TopologyValue] {
        let form = "expected START..END*FACTOR (geometric) or START..END+STEP (arithmetic), e.g. 1000..16000*2 or 10..100+10"
        guard let dots = item.range(of: "..") else { throw fail("\"\(item)\" is not a range, \(form)") }
        let startText = String(item[..<dots.lowerBound])
        let rest = item[dots.upperBound...]
        guard let opIndex = rest.firstIndex(where: { $0 == "*" || $0 == "+" }) else {
            throw fail("\"\(item)\" has no step, \(form)")
        }
        let geometric = rest[opIndex] == "*"
        let endText = String(rest[..<opIndex]), stepText = String(rest[rest.index(after: opIndex)...])
        func number(_ s: String, _ what: String) throws(SweepError) -> Double {
            guard TopologyValue.isJSONNumber(s), let v = Double(s), v.isFinite else {
                throw fail("the range's \(what) \"\(s)\" is not a number, \(form)")
            }
            return v
        }
        let start = try number(startText, "start"), end = try number(endText, "end")
        let step = try number(stepText, geometric ? "factor" : "step")
        guard end >= start else {
            throw fail("the range's end \(endText) is below its start \(startText), expected END ≥ START")
        }
        func isWhole(_ s: String) -> Bool { !s.contains(".") && !s.contains("e") && !s.contains("E") }
        // Whole numbers in, whole numbers out: a geometric range's start and end, an arithmetic one's start and step.
        let whole = isWhole(startText) && (geometric ? isWhole(endText) : isWhole(stepText))
        var values: [Double] = []
        let limit = end + abs(end) * 1e-9
        if geometric {
            guard step > 1 else { throw fail("the range's factor \(stepText) is not above 1, expected a factor > 1 such as 2") }
            guard start > 0 else { throw fail("the range's start \(startText) is not above 0, expected START > 0 for a geometric range") }
            var v = start
            while v <= limit {
                values.append(whole ? v.rounded() : v)
                guard values.count <= maxValues else { break }
                v *= step
            }
        } else {
            guard step > 0 else { throw fail("the range's step \(stepText) is not above 0, expected a step > 0 such as 10") }
            var n = 0.0
            while start + n * step <= limit {
                values.append(start + n * step)
                guard values.count <= maxValues else { break }
                n += 1
            }
        }
        guard values.count <= maxValues else {
            throw fail("the range \(item) has more than \(maxValues) values, expected at most \(maxValues) (a larger step or factor)")
        }
        return values.map { .number(SweepParameter.format($0, whole: whole)) }
    }

    /// A number as JSON text: whole numbers without a fraction.
    static func format(_ v: Double, whole: Bool = false) -> String {
        if (whole || v == v.rounded()), abs(v) < 1e15 { return String(Int64(v.rounded())) }
        return "\(v)"
    }
}

extension TopologyValue {
    /// `writer.rate=5000`, as a point's label shows a value.
    func assignment(_ path: TopologyPath) -> String { "\(path)=\(self)" }
}
