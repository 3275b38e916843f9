import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `events.jsonl`: one JSON object per lifecycle event or fault, with its actual time.
final class EventLog {
    private let handle: FileHandle

    init(path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)   // opening it says whether it worked
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
    }

    deinit { try? handle.close() }

    func log(_ kind: String, node: String? = nil, detail: [String: String] = [:]) {
        var obj: [String: Any] = ["wall_ns": SystemClock.wallNanos(), "event": kind]
        if let node { obj["node"] = node }
        for (k, v) in detail { obj[k] = v }
        guard var data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        handle.write(data)
    }
}

/// Free TCP ports on the loopback, found by binding port 0 and releasing it.
enum PortAllocator {
    nonisolated(unsafe) private static var used: Set<UInt16> = []

    static func next() -> UInt16 {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else { continue }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            let port = UInt16(bigEndian: addr.sin_port)
            if used.insert(port).inserted { return port }
        }
        preconditionFailure("no free TCP port on 127.0.0.1")
    }
}

/// A fault due at a time of the measured phase.
struct PlannedFault: Sendable {
    var atNanos: UInt64
    var action: FaultAction
    var targets: [String]
    var duration: UInt64?
    var detail: String
    var source: String
    /// The topology's fault (its `loss`, `bandwidth`, `delay`); nil for chaos and heals.
    var spec: FaultSpec? = nil
    /// A network fault's heal: the commands that undo what was applied.
    var heal: [[String]]?
}

/// Turns a topology's fault schedule and chaos block into one timed list.
enum FaultPlanner {
    static func plan(_ t: Topology) -> [PlannedFault] {
        var out: [PlannedFault] = []
        for (i, f) in t.faults.enumerated() {
            var targets = t.nodes(matching: f.target).map(\.name)
            if targets.isEmpty { targets = [f.target] }
            var detail = ""
            if let l = f.loss { detail = "loss \(l)" }
            if let b = f.bandwidth { detail = "bandwidth \(b)" }
            if let d = f.delay { detail = "delay \(d)" }
            out.append(PlannedFault(atNanos: f.at.nanoseconds, action: f.action, targets: targets,
                                    duration: f.for?.nanoseconds, detail: detail, source: "faults[\(i)]",
                                    spec: f))
        }
        if let c = t.chaos {
            var rng = SeededRandom(seed: c.seed ?? (t.seed ^ 0x9E37_79B9_7F4A_7C15))
            let start = c.start?.nanoseconds ?? 0
            let stop = min(c.stop?.nanoseconds ?? t.duration.nanoseconds, t.duration.nanoseconds)
            let candidates = Array(Set(c.targets.flatMap { t.nodes(matching: $0).map(\.name) })).sorted()
            let meanGap = 60e9 / c.rate
            var at = Double(start)
            while !candidates.isEmpty {
                let u = Double(rng.next() >> 11) / Double(1 << 53)
                at += -log(max(1 - u, 1e-12)) * meanGap
                guard at < Double(stop) else { break }
                let action = c.actions[Int(rng.below(UInt64(c.actions.count)))]
                let target = candidates[Int(rng.below(UInt64(candidates.count)))]
                let when = UInt64(at)
                switch action {
                case .kill, .terminate:
                    out.append(PlannedFault(atNanos: when, action: action, targets: [target], duration: nil, detail: "", source: "chaos"))
                    out.append(PlannedFault(atNanos: when + c.pauseFor.nanoseconds, action: .restart, targets: [target],
                                            duration: nil, detail: "chaos recovery", source: "chaos"))
                default:
                    out.append(PlannedFault(atNanos: when, action: action, targets: [target], duration: c.pauseFor.nanoseconds,
                                            detail: "", source: "chaos"))
                }
            }
        }
        return out.sorted { $0.atNanos < $1.atNanos }
    }
}

/// The live progress line: redrawn in place on a terminal, a plain line every
/// few seconds otherwise, nothing with `--quiet`.
final class ProgressLine {
    let quiet: Bool
    let isTTY = isatty(STDOUT_FILENO) == 1
    private var drawn = false
    private var received: [String: UInt64] = [:]
    private var lastTotal: UInt64 = 0
    private var lastT: Double = 0

    init(quiet: Bool) { self.quiet = quiet }

    func observe(node: ManagedNode, stats: Clustersim_V1_Stats) {
        received[node.name] = stats.received
    }

    func draw(elapsed: Double, total: Double, nodes: Dictionary<String, ManagedNode>.Values) {
        guard !quiet else { return }
        let sum = received.values.reduce(0, +)
        let rate = elapsed > lastT ? Double(sum &- min(sum, lastTotal)) / (elapsed - lastT) : 0
        lastTotal = sum
        lastT = elapsed
        var lost: UInt64 = 0, worstP99 = 0.0, up = 0, down = 0
        for n in nodes where n.role != .cpuHog {
            if n.alive { up += 1 } else { down += 1 }
            if let s = n.lastStats, n.role.isReader || n.role == .reader(.relay) {
                lost += s.lost
                worstP99 = max(worstP99, s.intervalLatency.p99Us)
            }
        }
        let line = String(format: "%5.1f/%.0fs  %8.0f deliveries/s  lost %llu  worst p99 %.2f ms  nodes up %d down %d",
                          elapsed, total, rate, lost, worstP99 / 1000, up, down)
        if isTTY {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        } else {
            print(line)
            fflush(nil)   // a pipe or a container's log is block-buffered
        }
    }

    /// Prints a line above the progress line.
    func note(_ s: String) {
        guard !quiet else { return }
        if isTTY && drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        print(s)
        fflush(nil)
    }

    func finish() {
        if isTTY && drawn && !quiet { print("") }
        drawn = false
    }
}

/// Writes report.json, summary.txt and report.html into a run directory.
public enum ReportWriter {
    public static func write(_ report: RunReport, to dir: String) throws {
        try report.jsonData().write(to: URL(fileURLWithPath: dir + "/report.json"))
        try Data(summary(report).utf8).write(to: URL(fileURLWithPath: dir + "/summary.txt"))
        try Data(ReportRenderer.html(report).utf8).write(to: URL(fileURLWithPath: dir + "/report.html"))
    }

    public static func summary(_ report: RunReport) -> String {
        ReportRenderer.summaryText(report)
    }
}
