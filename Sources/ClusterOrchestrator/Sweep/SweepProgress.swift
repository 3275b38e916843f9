import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The sweep's progress line: which run of how many, the time since the
/// sweep began and an estimate of the time left. Redrawn in place on a
/// terminal; elsewhere a line when each run starts. Finished runs are
/// printed above it, one line each. Nothing with `--quiet`.
final class SweepProgress {
    let quiet: Bool
    let isTTY = isatty(STDOUT_FILENO) == 1
    private let start = SystemClock.monotonicNanos()
    private var drawn = false
    private var current = ""
    private var runStart: UInt64 = 0
    private var done = 0
    private var total = 0
    private var approximate = false
    private var secondsPerRun: Double

    /// - Parameter expectedRunSeconds: the estimate of one run's length until one has finished.
    init(quiet: Bool, expectedRunSeconds: Double) {
        self.quiet = quiet
        self.secondsPerRun = expectedRunSeconds
    }

    /// A run begins: the `done + 1`-th of `total` (`approximate`: an estimate, for the knee search).
    func begin(_ what: String, done: Int, total: Int, approximate: Bool) {
        self.current = what
        self.done = done
        self.total = max(total, done + 1)
        self.approximate = approximate
        runStart = SystemClock.monotonicNanos()
        if isTTY { draw() } else if !quiet { print(line()); fflush(nil) }
    }

    /// A run ended after `seconds`; `meanSeconds` is the mean over the runs so far.
    func end(_ summary: String, meanSeconds: Double) {
        secondsPerRun = meanSeconds
        note(summary)
    }

    /// Redraws the line (on a terminal), about once a second while a run goes on.
    func tick() {
        if isTTY { draw() }
    }

    /// Prints a line above the progress line.
    func note(_ s: String) {
        guard !quiet else { return }
        if isTTY && drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        print(s)
        fflush(nil)
        if isTTY && drawn { draw() }
    }

    func finish() {
        guard !quiet else { return }
        if isTTY && drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
        fflush(nil)
    }

    private func draw() {
        guard !quiet else { return }
        FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line()).utf8))
        drawn = true
    }

    func line() -> String {
        let now = SystemClock.monotonicNanos()
        let elapsed = Double(now - start) / 1e9
        let inRun = Double(now - runStart) / 1e9
        let left = max(0, Double(total - done) * secondsPerRun - min(inRun, secondsPerRun))
        let of = approximate ? "~\(total)" : "\(total)"
        return "run \(done + 1) of \(of): \(current)   elapsed \(SweepProgress.clock(elapsed))   left \(approximate ? "~" : "")\(SweepProgress.clock(left))"
    }

    /// `1:05`, `1:02:03`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
