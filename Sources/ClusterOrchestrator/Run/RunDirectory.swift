import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run's directory, `<out>/<topology>-<UTC time>/`: `topology.json` as
/// validated, `events.jsonl`, a directory per node under `nodes/` (its log,
/// its dumps, the writer's event script) and, at the end, `run-state.json`;
/// the report's files are written beside them (``ReportWriter``).
final class RunDirectory {
    let path: String
    let events: EventLog

    /// Creates a new run's directory under `parent` (named after the topology
    /// and the time, UTC), `nodes/`, `topology.json` and `events.jsonl`.
    ///
    /// The directory is created with `mkdir(2)`, which fails when it exists:
    /// a second run started in the same second gets `-2` (then `-3`, …), never
    /// the first one's directory.
    /// - Parameter topology: the topology as the file gave it (before a `--launcher` override).
    /// - Throws: the file system's error, naming the path.
    init(parent: String, topology: Topology) throws {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let base = (parent as NSString).appendingPathComponent("\(topology.name)-\(Self.timestamp())")
        var candidate = base
        var n = 1
        while mkdir(candidate, 0o755) != 0 {
            let code = errno
            guard code == EEXIST, n < 1_000 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: candidate,
                                 NSLocalizedDescriptionKey: "cannot create \(candidate): \(String(cString: strerror(code)))"])
            }
            n += 1
            candidate = base + "-\(n)"
        }
        path = candidate
        try FileManager.default.createDirectory(atPath: path + "/nodes", withIntermediateDirectories: true)
        try TopologyLoader.encode(topology).write(to: URL(fileURLWithPath: path + "/topology.json"))
        events = try EventLog(path: path + "/events.jsonl")
    }

    /// Now, UTC, as `YYYYMMDD-HHMMSS`.
    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d%02d%02d-%02d%02d%02d", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec)
    }

    func nodeDirectory(_ name: String) -> String { path + "/nodes/" + name }

    /// Where a node's standard output and error go.
    func logPath(_ name: String) -> String { nodeDirectory(name) + "/node.log" }

    /// The last `lines` lines of a node's log (at most its last 64 KB read), for a diagnosis.
    func logTail(_ name: String, lines: Int) -> [String] {
        guard let h = FileHandle(forReadingAtPath: logPath(name)) else { return [] }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let text = String(decoding: (try? h.readToEnd()) ?? Data(), as: UTF8.self)
        return Array(text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).map(String.init))
    }

    func makeNodeDirectory(_ name: String) throws {
        try FileManager.default.createDirectory(atPath: nodeDirectory(name), withIntermediateDirectories: true)
    }

    /// Writes the writer's event script into its directory.
    /// - Returns: the file's path.
    func writeEventScript(_ events: [ScriptedEventSpec]) -> String {
        let path = nodeDirectory(Topology.writerName) + "/events.json"
        try? makeNodeDirectory(Topology.writerName)
        try? EventScriptFile.data(for: events).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes each node's final dump (metrics.json, metrics.prom, latency.hgrm, histogram.json) into its directory.
    /// - Returns: the nodes whose dump could not be written, with the error.
    func writeDumps(_ nodes: NodeTable) -> [(node: String, error: any Error)] {
        var failed: [(node: String, error: any Error)] = []
        for node in nodes.nodes {
            guard let f = node.telemetry.final?.message else { continue }
            let dir = nodeDirectory(node.name)
            do {
                try MetricsDump.write(json: f.metricsJson, prom: f.metricsProm, hgrm: f.latencyHgrm, to: dir)
                try f.histogram.write(to: URL(fileURLWithPath: dir + "/" + ReportBuilder.histogramFile))
            } catch {
                failed.append((node.name, error))
            }
        }
        return failed
    }

    /// Where nodes that others start keep their files: `nodes/<name>/` beside
    /// the run directories (`/runs/nodes/<name>/` in a generated compose file),
    /// since the run directory's name is the orchestrator's own.
    var sharedNodesDirectory: String {
        ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("nodes")
    }

    /// Moves the files nodes started by others left in ``sharedNodesDirectory``
    /// (a log reader's snapshots.jsonl, a writer's state) into their directories
    /// in the run directory, and removes what is left empty.
    /// - Returns: what was moved (`<node>/<file>`), and what could not be, with why.
    func adoptSharedNodeFiles(_ names: [String]) -> (moved: [String], failed: [String]) {
        let fm = FileManager.default
        var moved: [String] = [], failed: [String] = []
        let shared = sharedNodesDirectory
        for name in names {
            let from = (shared as NSString).appendingPathComponent(name)
            guard let entries = try? fm.contentsOfDirectory(atPath: from) else { continue }
            try? makeNodeDirectory(name)
            for entry in entries.sorted() {
                let target = nodeDirectory(name) + "/" + entry
                do {
                    guard !fm.fileExists(atPath: target) else { throw CocoaError(.fileWriteFileExists) }
                    try fm.moveItem(atPath: from + "/" + entry, toPath: target)
                    moved.append(name + "/" + entry)
                } catch {
                    failed.append("\(name)/\(entry): \(error.localizedDescription)")
                }
            }
            rmdir(from)   // only when empty: what could not be moved stays
        }
        rmdir(shared)
        return (moved, failed)
    }

    /// Writes `run-state.json`.
    func writeState(_ state: RunState) throws {
        try Self.encoder().encode(state).write(to: URL(fileURLWithPath: path + "/" + RunState.fileName))
    }

    /// Writes `endpoints.json`, atomically: an outside tool waiting for it never reads half of it.
    func writeEndpoints(_ endpoints: RunEndpoints) {
        try? Self.encoder().encode(endpoints).write(to: URL(fileURLWithPath: path + "/" + RunEndpoints.fileName), options: .atomic)
    }

    /// The run's JSON files: keys sorted, pretty unless asked otherwise.
    static func encoder(pretty: Bool = true) -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return enc
    }
}
