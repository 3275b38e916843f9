import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The live progress line: redrawn in place on a terminal, a plain line every
/// few seconds otherwise, nothing with `--quiet`.
///
/// Notes (launch failures, faults, the readiness line) are printed above it;
/// the run's summary is not: `orchestrator run` prints that itself, from the
/// run's outcome.
final class ProgressLine {
    let quiet: Bool
    let isTTY = isatty(STDOUT_FILENO) == 1
    private var drawn = false
    private var received: [String: UInt64] = [:]
    private var lastTotal: UInt64 = 0
    private var lastT: Double = 0

    init(quiet: Bool) { self.quiet = quiet }

    /// How often the line is drawn: every second on a terminal, every five
    /// seconds into a pipe or a log.
    var interval: UInt64 { isTTY ? 1_000_000_000 : 5_000_000_000 }

    /// Takes a node's deliveries from its STATS, for the rate the line shows.
    func observe(node: String, stats: Clustersim_V1_Stats) {
        received[node] = stats.received
    }

    /// Draws the line: elapsed time, deliveries per second since the last
    /// draw, losses, the worst fast reader's p99 over its last second (and the
    /// slow readers' apart: slow on purpose, their seconds of lag say nothing
    /// of the design), and how many nodes are up.
    func draw(elapsed: Double, total: Double, nodes: some Sequence<ManagedNode>) {
        guard !quiet else { return }
        let sum = received.values.reduce(0, +)
        let rate = elapsed > lastT ? Double(sum &- min(sum, lastTotal)) / (elapsed - lastT) : 0
        lastTotal = sum
        lastT = elapsed
        let line = Self.line(elapsed: elapsed, total: total, rate: rate, nodes: nodes)
        if isTTY {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        } else {
            print(line)
            fflush(nil)   // a pipe or a container's log is block-buffered
        }
    }

    /// The line's text.
    static func line(elapsed: Double, total: Double, rate: Double, nodes: some Sequence<ManagedNode>) -> String {
        var lost: UInt64 = 0, fastP99 = 0.0, slowP99: Double?, up = 0, down = 0
        for n in nodes where n.role != .cpuHog {
            if n.isAlive { up += 1 } else { down += 1 }
            guard let s = n.telemetry.lastStats, n.role.isReader || n.role == .reader(.relay) else { continue }
            lost += s.lost
            if n.plan.fastReader {
                fastP99 = max(fastP99, s.intervalLatency.p99Us)
            } else if n.role.isReader {
                slowP99 = max(slowP99 ?? 0, s.intervalLatency.p99Us)
            }
        }
        let slow = slowP99.map { String(format: " (others %.2f ms)", $0 / 1000) } ?? ""
        return String(format: "%5.1f/%.0fs  %8.0f deliveries/s  lost %llu  worst p99 %.2f ms", elapsed, total, rate, lost, fastP99 / 1000)
            + slow + "  nodes up \(up) down \(down)"
    }

    /// Prints a line above the progress line.
    func note(_ s: String) {
        guard !quiet else { return }
        if isTTY && drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        print(s)
        fflush(nil)
    }

    /// Ends the line, so what follows starts on a line of its own.
    func finish() {
        if isTTY && drawn && !quiet { print("") }
        drawn = false
    }
}
