import ClusterCore
import Foundation

/// What `orchestrator sweep` was asked to do, as given on its command line.
public struct SweepOptions: Sendable {
    public var topologyPath: String
    /// `PATH=VALUES`, at most two (one with `findMax`).
    public var vary: [String] = []
    /// The path whose highest passing value is searched.
    public var findMax: String?
    /// Runs per point of a grid sweep (default 1).
    public var repeats: Int?
    /// The knee search's probe rule, `K/N[,K/N…]` (default `3/3,5/6`).
    public var probe: String?
    /// The knee search's tolerance, `5%` or an absolute width (default 5%).
    public var tolerance: String?
    /// The knee search's first value (default: the topology's).
    public var from: String?
    /// The knee search's highest value (default: 1024 × the first).
    public var max: String?
    /// Overrides of the topology applied to every point.
    public var duration: String?
    public var seed: UInt64?
    /// Parent of the sweep directory.
    public var outDirectory = "sweeps"
    public var quiet = false
    /// The `cluster-node` executable, passed on to each run.
    public var nodeBinary: String?

    public init(topologyPath: String) {
        self.topologyPath = topologyPath
    }
}

/// A sweep checked and ready to run: the base topology with the settings
/// applied, the varied parameters, and what to do with them. Every variant
/// it will run has been validated as a topology.
public struct SweepPlan: Sendable {
    public struct FindMax: Sendable {
        public var path: TopologyPath
        public var start: Double
        public var lowerLimit: Double
        public var upperLimit: Double
        public var tolerance: Tolerance
        public var rule: ProbeRule
        public var integral: Bool
    }

    public enum Mode: Sendable {
        case grid(repeats: Int)
        case findMax(FindMax)
    }

    /// The most runs a grid sweep may make.
    public static let maxGridRuns = 1_000
    /// The most runs per point.
    public static let maxRepeats = 100

    public let topologyFile: String
    /// The topology file with the settings applied.
    public let base: TopologyDocument
    /// `base` parsed and validated.
    public let topology: Topology
    /// Settings applied to every point (`--duration`, `--seed`).
    public let settings: [(path: TopologyPath, value: TopologyValue)]
    /// The varied parameters: the first is the x axis, the second one line each.
    public let parameters: [SweepParameter]
    public let mode: Mode

    /// Checks the options against the topology and every variant they make.
    /// - Throws: ``SweepError`` with every problem found, one line each.
    public static func make(_ o: SweepOptions) throws(SweepError) -> SweepPlan {
        var document = try loadDocument(o)
        let options = try CheckedOptions(o)
        // The settings, then every value and every combination, as topologies.
        var settings: [(path: TopologyPath, value: TopologyValue)] = []
        if let d = o.duration { settings.append((TopologyPath([.key("duration")]), .string(d))) }
        if let s = o.seed { settings.append((TopologyPath([.key("seed")]), .number(String(s)))) }
        let origins = settings.map { s in s.path.description == "duration" ? "--duration \(s.value)" : "--seed \(s.value)" }
        let baseTopology: Topology
        do {
            for s in settings { try document.set(s.path, to: s.value) }
            baseTopology = try document.topology()
        } catch let e as TopologyError {
            throw SweepError(.invalidVariant, e.description.split(separator: "\n").map { "\($0) (with \(origins.joined(separator: ", ")))" })
        } catch {
            throw SweepError(.invalidVariant, "\(o.topologyPath): \(error)")
        }
        var variants = VariantCheck(base: document, file: o.topologyPath)
        let parameters = options.parameters
        var findMax: FindMax?
        if let path = options.findMaxPath {
            findMax = try searchRange(o, options, path: path, topology: baseTopology, variants: &variants)
        } else {
            for p in parameters {
                for v in p.values { variants.note([(p.path, v)], cause: "--vary \(v.assignment(p.path))") }
            }
            if variants.found.isEmpty, parameters.count == 2 {
                for a in parameters[0].values {
                    for b in parameters[1].values {
                        variants.note([(parameters[0].path, a), (parameters[1].path, b)],
                                      cause: "--vary \(a.assignment(parameters[0].path)) with --vary \(b.assignment(parameters[1].path))")
                    }
                }
            }
        }
        guard variants.found.isEmpty else {
            throw SweepError(.invalidVariant, variants.found.map { f in
                // Values of one parameter are listed together: "--vary writer.rate=0,-5".
                "\(f.line) (with \(SweepPlan.joinCauses(f.causes)))"
            })
        }
        return SweepPlan(topologyFile: o.topologyPath, base: document, topology: baseTopology, settings: settings,
                         parameters: parameters, mode: findMax.map { .findMax($0) } ?? .grid(repeats: options.repeats))
    }

    /// The topology as it is, valid as `orchestrator validate` checks it, as a document to vary.
    private static func loadDocument(_ o: SweepOptions) throws(SweepError) -> TopologyDocument {
        let data: Data
        do {
            _ = try TopologyLoader.load(path: o.topologyPath)
            data = try Data(contentsOf: URL(fileURLWithPath: o.topologyPath))
        } catch let e as TopologyError {
            throw SweepError(.topology, e.description.split(separator: "\n").map(String.init))
        } catch {
            throw SweepError(.topology, "\(o.topologyPath): cannot read the file (\(error.localizedDescription))")
        }
        do {
            return try TopologyDocument(data: data, file: o.topologyPath)
        } catch {
            throw SweepError(.topology, error.description.split(separator: "\n").map(String.init))
        }
    }

    /// The options on their own, parsed; every problem with them at once.
    private struct CheckedOptions {
        var parameters: [SweepParameter] = []
        var findMaxPath: TopologyPath?
        var repeats = 1
        var rule = ProbeRule.standard
        var tolerance = Tolerance.relative(0.05)

        init(_ o: SweepOptions) throws(SweepError) {
            var problems: [String] = []
            for v in o.vary {
                do { parameters.append(try SweepParameter.parse(v)) } catch { problems += error.lines }
            }
            if let f = o.findMax {
                do { findMaxPath = try TopologyPath(parsing: f) } catch { problems.append("--find-max \(f): \(error)") }
            }
            problems += Self.combinationProblems(o, parameters: parameters, findMaxPath: findMaxPath)
            repeats = o.repeats ?? 1
            if !(1...maxRepeats).contains(repeats) {
                problems.append("--repeat \(repeats): expected 1 ... \(maxRepeats) runs per point")
            }
            if let p = o.probe {
                do { rule = try ProbeRule(parsing: p) } catch { problems += error.lines }
            }
            if let t = o.tolerance {
                do { tolerance = try Tolerance(parsing: t) } catch { problems += error.lines }
            }
            if o.findMax == nil, !parameters.isEmpty, problems.isEmpty {
                let runs = parameters.reduce(1) { $0 * $1.values.count } * repeats
                if runs > maxGridRuns {
                    problems.append("the sweep would make \(runs) runs (\(parameters.map { "\($0.values.count) values of \($0.path)" }.joined(separator: " × ")) × \(repeats) repeats), expected at most \(maxGridRuns)")
                }
            }
            guard problems.isEmpty else { throw SweepError(.badOption, problems) }
        }

        /// Options that do not go together: too many `--vary`, a path varied twice, options of the other mode.
        private static func combinationProblems(_ o: SweepOptions, parameters: [SweepParameter], findMaxPath: TopologyPath?) -> [String] {
            var problems: [String] = []
            let maxVary = o.findMax == nil ? 2 : 1
            if o.vary.count > maxVary {
                problems.append(o.findMax == nil
                    ? "--vary: given \(o.vary.count) times, expected at most 2 (an x axis and one line per value of the second)"
                    : "--vary: given \(o.vary.count) times with --find-max, expected at most 1 (a knee is searched for each of its values)")
            }
            if o.vary.isEmpty, o.findMax == nil {
                problems.append("nothing to sweep: expected --vary PATH=VALUES (e.g. --vary writer.rate=1000,2000,5000) or --find-max PATH (e.g. --find-max writer.rate)")
            }
            var seen: [String: String] = [:]
            for (path, option) in parameters.map({ ($0.path.description, "--vary") }) + (findMaxPath.map { [($0.description, "--find-max")] } ?? []) {
                if let first = seen[path] {
                    problems.append("\(option) \(path): the path is already varied by \(first), expected each path once")
                }
                seen[path] = option
            }
            if o.findMax != nil {
                if let r = o.repeats {
                    problems.append("--repeat \(r): not used with --find-max, whose probes repeat as --probe says (default \(ProbeRule.standard))")
                }
            } else {
                for (name, value) in [("--probe", o.probe), ("--tolerance", o.tolerance), ("--from", o.from), ("--max", o.max)] {
                    if let value { problems.append("\(name) \(value): only used with --find-max") }
                }
            }
            return problems
        }
    }

    /// Variants of the base document checked by the topology's own validation;
    /// each problem kept once, with the values that cause it.
    private struct VariantCheck {
        let base: TopologyDocument
        let file: String
        var found: [(line: String, causes: [String])] = []

        init(base: TopologyDocument, file: String) {
            self.base = base
            self.file = file
        }

        /// What validation says of the base with `assignments`, one line per problem.
        func issues(_ assignments: [(TopologyPath, TopologyValue)]) -> [String] {
            var doc = base
            do {
                for (p, v) in assignments { try doc.set(p, to: v) }
                _ = try doc.topology()
                return []
            } catch let e as TopologyError {
                return e.description.split(separator: "\n").map(String.init)
            } catch {
                return ["\(file): \(error)"]
            }
        }

        /// Records the problems of a variant, crediting `cause` ("(with --vary writer.rate=0,-5)").
        mutating func note(_ assignments: [(TopologyPath, TopologyValue)], cause: String) {
            for l in issues(assignments) {
                if let i = found.firstIndex(where: { $0.line == l }) { found[i].causes.append(cause) } else { found.append((l, [cause])) }
            }
        }
    }

    /// The knee search's range on `path`: from `--from` or the topology's value, up to
    /// `--max` or the largest value the topology accepts; the first probe's variants checked.
    private static func searchRange(_ o: SweepOptions, _ options: CheckedOptions, path: TopologyPath, topology: Topology,
                                    variants: inout VariantCheck) throws(SweepError) -> FindMax {
        let parameters = options.parameters
        let start: TopologyValue
        var integral = true
        if let f = o.from {
            start = TopologyValue(commandLine: f)
            guard let n = start.number, n > 0 else {
                throw SweepError(.badOption, "--from \(f): expected a number above 0 to start the search at")
            }
            integral = !f.contains(".") && !f.lowercased().contains("e")
        } else if let current = variants.base.value(at: path) ?? Self.defaultValue(of: path, in: topology) {
            guard let n = current.number else {
                throw SweepError(.badOption, "--find-max \(path): \(o.topologyPath) has \(current.found) there, expected a number to search over (the search changes numbers: writer.rate, readers[0].count)")
            }
            guard n > 0 else {
                throw SweepError(.badOption, "--find-max \(path): \(o.topologyPath) has \(current) there, expected a number above 0 to start from (give --from)")
            }
            start = current
            integral = !current.description.contains(".") && !current.description.lowercased().contains("e")
        } else {
            // Not in the file nor among the defaults: let the topology's own validation say what is wrong.
            start = .number("1")
        }
        let startValue = start.number ?? 1
        var upper = startValue * 1024
        if let m = o.max {
            guard let v = TopologyValue(commandLine: m).number, v >= startValue else {
                throw SweepError(.badOption, "--max \(m): expected a number at or above the search's first value \(start)")
            }
            upper = v
        } else {
            // No higher than the topology accepts (writer.rate ≤ 1000000, a count ≤ 2000): the
            // largest valid value below 1024 × the start, assuming the valid values form a range.
            let fixed = parameters.first.map { [($0.path, $0.values[0])] } ?? []
            let check = variants
            func valid(_ v: Double) -> Bool {
                check.issues(fixed + [(path, .number(SweepParameter.format(v, whole: integral)))]).isEmpty
            }
            if valid(startValue), !valid(upper) {
                var lo = startValue, hi = upper
                while hi - lo > (integral ? 1 : lo * 1e-6) {
                    let mid = integral ? ((lo + hi) / 2).rounded(.down) : (lo + hi) / 2
                    if valid(mid) { lo = mid } else { hi = mid }
                }
                upper = lo
            }
        }
        let origin = "--find-max \(path) starting at \(start)"
        if parameters.isEmpty {
            variants.note([(path, start)], cause: origin)
        } else {
            for v in parameters[0].values {
                variants.note([(parameters[0].path, v), (path, start)], cause: "\(origin), --vary \(v.assignment(parameters[0].path))")
            }
        }
        return FindMax(path: path, start: startValue, lowerLimit: integral ? 1 : startValue / 1024, upperLimit: upper,
                       tolerance: options.tolerance, rule: options.rule, integral: integral)
    }

    /// "--vary a=1", "--vary a=2" → "--vary a=1,2"; other causes listed as they are.
    static func joinCauses(_ causes: [String]) -> String {
        var out: [(prefix: String, values: [String])] = []
        for c in causes {
            if c.hasPrefix("--vary "), !c.contains(" with "), let eq = c.firstIndex(of: "=") {
                let prefix = String(c[...eq]), value = String(c[c.index(after: eq)...])
                if let i = out.firstIndex(where: { $0.prefix == prefix }) { out[i].values.append(value); continue }
                out.append((prefix, [value]))
            } else {
                out.append((c, []))
            }
        }
        let shown = out.prefix(5).map { $0.prefix + $0.values.joined(separator: ",") }
        return shown.joined(separator: "; ") + (out.count > 5 ? "; and \(out.count - 5) more" : "")
    }

    /// The value a topology has at `path` with every default filled in, when the file leaves it out.
    static func defaultValue(of path: TopologyPath, in topology: Topology) -> TopologyValue? {
        guard let data = try? TopologyLoader.encode(topology),
              let doc = try? TopologyDocument(data: data, file: "defaults") else { return nil }
        return doc.value(at: path)
    }

    /// The topology of a point: the base with `assignments` set.
    /// - Returns: its JSON and the validated topology.
    /// - Throws: ``TopologyError`` when the values make an invalid topology.
    public func variant(_ assignments: [(path: TopologyPath, value: TopologyValue)]) throws -> (json: Data, topology: Topology) {
        var doc = base
        for a in assignments { try doc.set(a.path, to: a.value) }
        return (doc.jsonData(), try doc.topology())
    }

    /// Every assignment of the grid, the first parameter varying fastest.
    public var gridPoints: [[(path: TopologyPath, value: TopologyValue)]] {
        var out: [[(path: TopologyPath, value: TopologyValue)]] = [[]]
        for p in parameters {
            out = p.values.flatMap { v in out.map { $0 + [(p.path, v)] } }
        }
        // flatMap above puts the new parameter outermost: the first parameter varies fastest.
        return out
    }
}
