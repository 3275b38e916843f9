import ClusterCore
import ClusterTestSupport
import ClusterOrchestrator
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built executables as real processes, the way a user does.
enum Harness {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Where `swift build` put the executables (scripts/test.sh builds them first).
    static let binDirectory: String = {
        if let d = ProcessInfo.processInfo.environment["CLUSTERSIM_BIN_DIR"] { return d }
        for config in ["debug", "release"] {
            let d = root + "/.build/\(config)"
            if FileManager.default.isExecutableFile(atPath: d + "/orchestrator"),
               FileManager.default.isExecutableFile(atPath: d + "/cluster-node") { return d }
        }
        return root + "/.build/debug"
    }()

    static var orchestrator: String { binDirectory + "/orchestrator" }
    static var clusterNode: String { binDirectory + "/cluster-node" }
    static var binariesExist: Bool {
        FileManager.default.isExecutableFile(atPath: orchestrator) && FileManager.default.isExecutableFile(atPath: clusterNode)
    }

    static func tempDirectory(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "clustersim-test-\(tag)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var pid: Int32
    }

    /// Starts a process; the caller waits with `wait(_:timeout:)`.
    static func start(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Waits for a process, killing it (and failing) after `timeout` seconds.
    static func wait(_ p: Process, _ out: Pipe, _ err: Pipe, timeout: Double) -> Result {
        // Read the pipes concurrently so a chatty child never blocks on a full pipe.
        let outData = Locked(Data()), errData = Locked(Data())
        let group = DispatchGroup()
        for (pipe, box) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                let d = pipe.fileHandleForReading.readDataToEndOfFile()
                box.set(d)
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        var timedOut = false
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            timedOut = true
        }
        p.waitUntilExit()
        _ = group.wait(timeout: .now() + 5)
        return Result(status: timedOut ? -1 : p.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: (timedOut ? "timed out after \(timeout) s\n" : "") + String(decoding: errData.get(), as: UTF8.self),
                      pid: p.processIdentifier)
    }

    /// Runs a process to its end (off the cooperative pool).
    static func run(_ executable: String, _ args: [String], timeout: Double, environment: [String: String] = [:]) async throws -> Result {
        try await offPool {
            let (p, o, e) = try start(executable, args, environment: environment)
            return wait(p, o, e, timeout: timeout)
        }
    }

    /// Runs a topology given as JSON text; returns the result and the run directory.
    static func runTopology(_ json: String, tag: String, extra: [String] = [], timeout: Double = 90) async throws -> (Result, String?) {
        let dir = tempDirectory(tag)
        let file = dir + "/\(tag).json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await run(orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--node-binary", clusterNode] + extra,
                              timeout: timeout, environment: ["CLUSTERSIM_TEST_TAG": tag])
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/runs")) ?? []
        return (r, runs.first.map { dir + "/runs/" + $0 })
    }

    /// Starts a run of a topology given as JSON text without waiting for it; the
    /// caller waits with `wait(_:_:_:timeout:)`. `runs` is the parent of its run directory.
    static func startTopology(_ json: String, tag: String) throws -> (process: Process, out: Pipe, err: Pipe, runs: String) {
        let dir = tempDirectory(tag)
        let file = dir + "/\(tag).json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let (p, o, e) = try start(orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--node-binary", clusterNode],
                                  environment: ["CLUSTERSIM_TEST_TAG": tag])
        return (p, o, e, dir + "/runs")
    }

    /// Waits until the run under `runs` logs an `event` in its events.jsonl, at most `timeout` seconds.
    /// - Returns: whether it did.
    static func waitForEvent(_ event: String, in runs: String, timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let dirs = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
            if let run = dirs.first, let ev = try? String(contentsOfFile: runs + "/\(run)/events.jsonl", encoding: .utf8),
               ev.contains("\"event\":\"\(event)\"") { return true }
        }
        return false
    }

    /// Processes whose environment carries the test tag (children inherit it).
    static func processes(tagged tag: String) -> [Int32] {
        let needle = Array("CLUSTERSIM_TEST_TAG=\(tag)".utf8)
        var out: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            guard let env = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let bytes = [UInt8](env)
            for var_ in bytes.split(separator: 0) where Array(var_) == needle { out.append(pid) }
        }
        return out
    }
}

final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
}
