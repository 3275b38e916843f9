import ClusterCore
import Foundation

/// One side of `orchestrator compare`: a run directory or a sweep directory.
public enum CompareSource: Sendable {
    case run(directory: String, report: RunReport, topology: Topology?)
    case sweep(directory: String, report: SweepReport, topology: Topology?)

    /// Reads a run directory (its report.json and topology.json) or a sweep directory (sweep.json and topology.json).
    /// - Throws: ``SweepError`` (`badDirectory`) naming the directory and what it lacks.
    public static func load(_ path: String) throws(SweepError) -> CompareSource {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw SweepError(.badDirectory, "\(path): no such directory, expected a run directory (runs/<name>-<time>) or a sweep directory (sweeps/<name>-<time>)")
        }
        let topology = try? TopologyLoader.load(path: path + "/topology.json")
        if fm.fileExists(atPath: path + "/report.json") {
            do {
                return .run(directory: path, report: try RunReport.load(path: path + "/report.json"), topology: topology)
            } catch {
                throw SweepError(.badDirectory, "\(path)/report.json: cannot be read (\(Comparison.describe(error))), expected a run's report (orchestrator report \(path) writes it again)")
            }
        }
        if fm.fileExists(atPath: path + "/sweep.json") {
            do {
                return .sweep(directory: path, report: try SweepReport.load(path: path + "/sweep.json"), topology: topology)
            } catch {
                throw SweepError(.badDirectory, "\(path)/sweep.json: cannot be read (\(Comparison.describe(error))), expected a sweep's report")
            }
        }
        throw SweepError(.badDirectory, "\(path): holds neither report.json nor sweep.json, expected a run directory or a sweep directory")
    }

    var directory: String {
        switch self {
        case .run(let d, _, _), .sweep(let d, _, _): d
        }
    }

    var topology: Topology? {
        switch self {
        case .run(_, _, let t), .sweep(_, _, let t): t
        }
    }
}

extension Comparison {
    /// Compares two run directories or two sweep directories.
    /// - Throws: ``SweepError`` when a side cannot be read, or one is a run and the other a sweep.
    public static func make(_ pathA: String, _ pathB: String, comparer: Comparer) throws(SweepError) -> Comparison {
        let a = try CompareSource.load(pathA), b = try CompareSource.load(pathB)
        var rng = SeededRandom(seed: comparer.seed)
        switch (a, b) {
        case (.run(_, let ra, let ta), .run(_, let rb, let tb)):
            var warnings = differences(ta, tb)
            warnings += reportDifferences(ra, rb, topologies: ta != nil && tb != nil)
            let tables = comparer.tables(.init([ra]), .init([rb]), rng: &rng)
            return Comparison(kind: .runs, a: pathA, b: pathB, threshold: comparer.threshold, level: comparer.level,
                              replicates: comparer.replicates, warnings: warnings, tables: tables)
        case (.sweep(let da, let sa, let ta), .sweep(let db, let sb, let tb)):
            var warnings = differences(ta, tb)
            if sa.parameters != sb.parameters {
                warnings.append("varied: \(describe(sa.parameters)) vs \(describe(sb.parameters))")
            }
            if sa.settings != sb.settings {
                warnings.append("settings: \(sa.settings.map(\.text).joined(separator: " ")) vs \(sb.settings.map(\.text).joined(separator: " "))")
            }
            if sa.mode == .grid, sb.mode == .grid, sa.repeats != sb.repeats {
                warnings.append("runs per point: \(sa.repeats) vs \(sb.repeats)")
            }
            var tables: [CompareTable] = []
            var unmatched: [String] = []
            var firstReports: (RunReport, RunReport)?
            for p in sa.points where p.result != .invalid {
                guard let q = sb.points.first(where: { Set($0.values) == Set(p.values) && $0.result != .invalid }) else {
                    unmatched.append(p.label)
                    continue
                }
                let ra = reports(da, p), rb = reports(db, q)
                guard !ra.isEmpty, !rb.isEmpty else {
                    unmatched.append(p.label)
                    continue
                }
                if firstReports == nil { firstReports = (ra[0], rb[0]) }
                let prefix = "\(p.label): "
                tables += comparer.tables(.init(ra), .init(rb), rng: &rng, prefix: prefix).filter {
                    $0.title.hasPrefix(prefix + "all ") || $0.title == prefix + "writer"
                }
            }
            if !unmatched.isEmpty {
                warnings.append("points of A with no counterpart in B (or no finished run): \(unmatched.joined(separator: "; "))")
            }
            if let (ra, rb) = firstReports {
                warnings += reportDifferences(ra, rb, topologies: true)
            }
            if tables.isEmpty {
                throw SweepError(.badDirectory, "\(pathA) and \(pathB): no point with the same values has finished runs in both, expected sweeps over common values")
            }
            return Comparison(kind: .sweeps, a: pathA, b: pathB, threshold: comparer.threshold, level: comparer.level,
                              replicates: comparer.replicates, warnings: warnings, tables: tables)
        default:
            throw SweepError(.badDirectory, "\(pathA) is a \(a.kindName) and \(pathB) a \(b.kindName), expected two run directories or two sweep directories")
        }
    }

    /// The reports of a sweep point's finished runs.
    static func reports(_ sweepDirectory: String, _ p: SweepPoint) -> [RunReport] {
        p.runs.filter(\.counted).compactMap { r in
            r.runDirectory.flatMap { try? RunReport.load(path: sweepDirectory + "/" + $0 + "/report.json") }
        }
    }

    static func describe(_ params: [SweepParameterReport]) -> String {
        params.isEmpty ? "nothing" : params.map { "\($0.path)=\($0.values.joined(separator: ","))" }.joined(separator: " ")
    }

    /// Settings of the two topologies that differ, one line each ("writer.rate: 10000 vs 5000").
    static func differences(_ a: Topology?, _ b: Topology?) -> [String] {
        guard let a, let b else {
            return a == nil && b == nil ? [] : ["one side has no topology.json: its settings cannot be compared"]
        }
        var out: [String] = []
        func check(_ name: String, _ x: String, _ y: String) {
            if x != y { out.append("\(name): \(x) vs \(y)") }
        }
        check("topology name", a.name, b.name)
        check("seed", "\(a.seed)", "\(b.seed)")
        check("duration", "\(a.duration)", "\(b.duration)")
        check("warmup", "\(a.warmup)", "\(b.warmup)")
        check("launcher (topology)", a.launcher.rawValue, b.launcher.rawValue)
        check("cpuPinning", a.cpuPinning.rawValue, b.cpuPinning.rawValue)
        check("writer.rate", Fmt.number(a.writer.rate), Fmt.number(b.writer.rate))
        check("writer.payloadBytes", "\(a.writer.payloadBytes)", "\(b.writer.payloadBytes)")
        check("writer.transport", a.writer.transport.rawValue, b.writer.transport.rawValue)
        check("writer.sndhwm", "\(a.writer.sndhwm)", "\(b.writer.sndhwm)")
        check("writer.sndbuf", a.writer.sndbuf.map(String.init) ?? "default", b.writer.sndbuf.map(String.init) ?? "default")
        check("writer.nodrop", "\(a.writer.nodrop)", "\(b.writer.nodrop)")
        check("writer.promise", a.writer.promise.rawValue, b.writer.promise.rawValue)
        check("writer.batch", batch(a.writer.batch), batch(b.writer.batch))
        check("writer.nice", a.writer.nice.map(String.init) ?? "default", b.writer.nice.map(String.init) ?? "default")
        check("writer.scheduling", a.writer.scheduling.rawValue, b.writer.scheduling.rawValue)
        check("readers", groups(a), groups(b))
        check("reader count", "\(a.nodes.filter { $0.role.isReader }.count)", "\(b.nodes.filter { $0.role.isReader }.count)")
        check("faults", faults(a), faults(b))
        check("chaos", a.chaos.map { "\(Fmt.number($0.rate))/min on \($0.targets.joined(separator: ","))" } ?? "none",
              b.chaos.map { "\(Fmt.number($0.rate))/min on \($0.targets.joined(separator: ","))" } ?? "none")
        if a.slo != b.slo { out.append("slo: the SLOs differ (pass and fail are judged differently)") }
        return out
    }

    static func batch(_ b: BatchSpec?) -> String {
        b.map { "maxCount \($0.maxCount), maxDelay \($0.maxDelay)" } ?? "off"
    }

    static func groups(_ t: Topology) -> String {
        t.readers.map { g in
            var s = "\(g.groupName): \(g.role.rawValue)×\(g.count) \(g.policy.rawValue)"
            if let d = g.processingDelay { s += " delay \(d.mean)" }
            if let v = g.via { s += " via \(v)" }
            if g.rcvhwm != HighWaterMarks.default { s += " rcvhwm \(g.rcvhwm)" }
            if let n = g.nice { s += " nice \(n)" }
            if g.scheduling != .normal { s += " scheduling \(g.scheduling.rawValue)" }
            return s
        }.joined(separator: ", ")
    }

    static func faults(_ t: Topology) -> String {
        t.faults.isEmpty ? "none" : t.faults.map { "\($0.action.rawValue) \($0.target) at \($0.at)" }.joined(separator: ", ")
    }

    /// What the reports say differs: the launcher used, the measured length, the host.
    static func reportDifferences(_ a: RunReport, _ b: RunReport, topologies: Bool) -> [String] {
        var out: [String] = []
        func check(_ name: String, _ x: String, _ y: String) {
            if x != y { out.append("\(name): \(x) vs \(y)") }
        }
        if !topologies {
            check("topology name", a.name, b.name)
            check("seed", "\(a.seed)", "\(b.seed)")
            check("writer rate", Fmt.rate(a.writer.rateAsked), Fmt.rate(b.writer.rateAsked))
            check("readers", "\(a.totals.readers)", "\(b.totals.readers)")
        }
        // A writer that fell behind (or was paused) put less load on its readers: their latency is not for the same load.
        let (ra, rb) = (a.writer.rateAchieved, b.writer.rateAchieved)
        if max(ra, rb) > 0, abs(ra - rb) > 0.1 * max(ra, rb) {
            func share(_ r: RunReport) -> String {
                r.writer.rateAsked > 0 ? " (\(Fmt.fixed(100 * r.writer.rateAchieved / r.writer.rateAsked, 1)) % of the rate asked)" : ""
            }
            out.append("writer rate achieved: \(Fmt.rate(ra))/s\(share(a)) vs \(Fmt.rate(rb))/s\(share(b)): the readers carried different loads")
        }
        check("launcher", a.launcher, b.launcher)
        if abs(a.durationSeconds - b.durationSeconds) > 0.1 * max(a.durationSeconds, b.durationSeconds) {
            out.append("measured phase: \(Fmt.fixed(a.durationSeconds, 1)) s vs \(Fmt.fixed(b.durationSeconds, 1)) s")
        }
        check("host", "\(a.environment.host.hostname) (\(a.environment.host.cores) cores)", "\(b.environment.host.hostname) (\(b.environment.host.cores) cores)")
        check("libzmq", a.environment.libzmq, b.environment.libzmq)
        if a.aborted != nil || b.aborted != nil {
            out.append("aborted run: \(a.aborted ?? "no") vs \(b.aborted ?? "no") (a partial report)")
        }
        return out
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
                let path = c.codingPath.map(\.stringValue).joined(separator: ".")
                return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
            @unknown default:
                return "\(e)"
            }
        }
        return error.localizedDescription
    }
}

extension CompareSource {
    var kindName: String {
        switch self {
        case .run: "run directory"
        case .sweep: "sweep directory"
        }
    }
}
