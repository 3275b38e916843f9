import Foundation
import Testing

@testable import ClusterProcess

@Suite("cpu affinity")
struct CPUAffinityTests {
    /// A value handed back from another thread, read after its semaphore is signalled.
    final class Box<T>: @unchecked Sendable { var value: T? }

    /// Runs `body` on a thread of its own (pinning it must not pin a test-pool thread), bounded.
    func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { box.value = body(); done.signal() }
        thread.start()
        #expect(done.wait(timeout: .now() + 10) == .success, "the thread did not finish")
        return try #require(box.value)
    }

    @Test("CPU lists read as taskset writes them")
    func describe() {
        #expect(CPUAffinity.describe([]) == "")
        #expect(CPUAffinity.describe([3]) == "3")
        #expect(CPUAffinity.describe([0, 1]) == "0-1")
        #expect(CPUAffinity.describe([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8")
    }

    @Test("CPU lists parse as describe writes them; other text is refused")
    func parse() {
        for cpus in [[0], [3], [0, 1], [0, 1, 2, 5, 7, 8]] {
            #expect(CPUAffinity.parse(CPUAffinity.describe(cpus)) == cpus)
        }
        #expect(CPUAffinity.parse("1,0-1") == [0, 1])
        for bad in ["", "a", "3-1", "-1", "1-", "1,,2", "0-70000"] {
            #expect(CPUAffinity.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("another process's allowed CPUs: this one's read through /proc; none for a process that is gone")
    func allowedOfPid() {
        #expect(CPUAffinity.allowed(pid: getpid()) == CPUAffinity.allowed())
        #expect(CPUAffinity.allowed(pid: Int32.max).isEmpty)
    }

    @Test("the allowed CPUs are the ones /proc says")
    func allowedMatchesProc() throws {
        let allowed = CPUAffinity.allowed()
        #expect(!allowed.isEmpty)
        #expect(allowed == allowed.sorted() && Set(allowed).count == allowed.count)
        // The process's list as the kernel prints it (the test thread shares the process's mask).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        #expect(line.split(separator: "\t").last.map(String.init) == CPUAffinity.describe(allowed))
    }

    @Test("a pinned thread may run only on its CPU, and threads it starts inherit that")
    func pinning() throws {
        let target = try #require(CPUAffinity.allowed().last)
        let (mine, child) = try onOwnThread { () -> ([Int], [Int]) in
            guard (try? CPUAffinity.pin(to: target)) != nil else { return ([], []) }
            let box = Box<[Int]>()
            let done = DispatchSemaphore(value: 0)
            Thread { box.value = CPUAffinity.allowed(); done.signal() }.start()
            _ = done.wait(timeout: .now() + 10)
            return (CPUAffinity.allowed(), box.value ?? [])
        }
        #expect(mine == [target])
        #expect(child == [target])
    }

    @Test("a CPU the process may not use is refused, naming the ones it may")
    func refusesUnknownCPU() throws {
        let allowed = CPUAffinity.allowed()
        let outside = (allowed.max() ?? 0) + 1
        let error = try onOwnThread { () -> String? in
            do { try CPUAffinity.pin(to: outside); return nil } catch { return "\(error)" }
        }
        #expect(error == "cannot pin to CPU \(outside): not one this process may run on (allowed: \(CPUAffinity.describe(allowed)))")
    }
}
