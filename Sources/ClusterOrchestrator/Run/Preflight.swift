import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What this machine can hold, read before anything is launched: memory,
/// processes, threads and file descriptors.
struct MachineLimits: Sendable, Hashable {
    /// `MemAvailable` of /proc/meminfo, bytes; nil where it cannot be read.
    var memoryAvailable: UInt64?
    /// `kernel.threads-max`.
    var threadsMax: Int?
    /// `kernel.pid_max`.
    var pidMax: Int?
    /// `RLIMIT_NPROC` (threads, per user), soft.
    var processLimit: Int?
    /// `RLIMIT_NOFILE`, soft and hard.
    var openFiles: (soft: Int, hard: Int)

    static func == (a: Self, b: Self) -> Bool {
        a.memoryAvailable == b.memoryAvailable && a.threadsMax == b.threadsMax && a.pidMax == b.pidMax
            && a.processLimit == b.processLimit && a.openFiles == b.openFiles
    }
    func hash(into h: inout Hasher) { h.combine(memoryAvailable); h.combine(openFiles.soft) }

    /// `RLIMIT_NPROC` (6 on Linux), which Glibc's Swift overlay does not export.
    static let rlimitNPROC: __rlimit_resource_t = __rlimit_resource_t(6)

    /// The limits of this machine and process.
    static func read() -> MachineLimits {
        func number(_ path: String) -> Int? {
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        var memory: UInt64?
        if let info = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = UInt64(line.split(separator: " ").dropFirst().first ?? "") {
            memory = kb * 1024
        }
        var nproc = rlimit(), nofile = rlimit()
        let procs = getrlimit(Self.rlimitNPROC, &nproc) == 0 && nproc.rlim_cur != rlim_t.max ? Int(nproc.rlim_cur) : nil
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &nofile)
        func clamp(_ v: rlim_t) -> Int { v == rlim_t.max ? Int.max : Int(min(v, rlim_t(Int.max))) }
        return MachineLimits(memoryAvailable: memory, threadsMax: number("/proc/sys/kernel/threads-max"),
                             pidMax: number("/proc/sys/kernel/pid_max"), processLimit: procs,
                             openFiles: (clamp(nofile.rlim_cur), clamp(nofile.rlim_max)))
    }
}

/// Checks a topology against the machine before launching it, so that a run
/// that cannot fit is refused with the reason rather than failing half-way
/// with nodes that never become ready.
enum Preflight {
    /// Resident memory of one node, for the estimate: a reader's RSS is 20–30 MB
    /// (docs/architecture.md; most of it shared libraries).
    static let bytesPerNode: UInt64 = 30 << 20
    /// Threads of one node: its own, libzmq's I/O thread and reaper, and a query reader's workers.
    static let threadsPerNode = 8
    /// The orchestrator's file descriptors: two per node (its control-plane
    /// connection, and a log or /proc file being read), and some to spare.
    static func openFilesNeeded(nodes: Int) -> Int { 2 * nodes + 64 }

    /// What stands in the way of running `nodes` nodes here; empty when nothing does.
    /// - Parameter ownsProcesses: the nodes are this machine's processes (not the external launcher's).
    static func problems(nodes: Int, ownsProcesses: Bool, limits: MachineLimits) -> [String] {
        var out: [String] = []
        let files = openFilesNeeded(nodes: nodes)
        if files > limits.openFiles.hard {
            out.append("the orchestrator needs about \(files) file descriptors for \(nodes) nodes (one control-plane connection "
                + "each, and files it reads), but this process may open at most \(limits.openFiles.hard) (ulimit -Hn): raise the limit")
        }
        guard ownsProcesses else { return out }
        if let available = limits.memoryAvailable, UInt64(nodes) * bytesPerNode > available {
            out.append("\(nodes) nodes need about \(gigabytes(UInt64(nodes) * bytesPerNode)) of memory (\(bytesPerNode >> 20) MB each), "
                + "and this machine has \(gigabytes(available)) available: at most about \(available / bytesPerNode) nodes fit")
        }
        let threads = nodes * threadsPerNode
        for (limit, what) in [(limits.threadsMax, "kernel.threads-max"), (limits.processLimit, "the process limit (ulimit -u)")] {
            if let limit, threads > limit {
                out.append("\(nodes) nodes run about \(threads) threads, more than \(what) allows (\(limit))")
            }
        }
        if let pids = limits.pidMax, threads > pids {
            out.append("\(nodes) nodes run about \(threads) threads, more than kernel.pid_max (\(pids)) leaves pids for")
        }
        return out
    }

    /// Raises this process's soft limit of open files to what `nodes` nodes need
    /// (up to the hard limit); the nodes, started from it, inherit it.
    /// - Returns: the soft limit now.
    @discardableResult
    static func raiseOpenFiles(forNodes nodes: Int) -> Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 0 }
        let want = rlim_t(openFilesNeeded(nodes: nodes))
        if r.rlim_cur < want {
            r.rlim_cur = min(max(want, r.rlim_cur), r.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        }
        return r.rlim_cur == rlim_t.max ? Int.max : Int(r.rlim_cur)
    }

    /// How many file descriptors this process has open now (/proc/self/fd), or nil.
    static func openFileCount() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { $0.count }
    }

    static func gigabytes(_ bytes: UInt64) -> String {
        String(format: "%.1f GB", Double(bytes) / Double(1 << 30))
    }
}
