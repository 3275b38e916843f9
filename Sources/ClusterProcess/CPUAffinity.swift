import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// Which CPUs a process runs on.
///
/// A reader pinned to one CPU has libzmq's I/O thread and its own thread
/// there together, so each message's hand-off from the one to the other is
/// a wake-up on the same CPU, with the frame still in that CPU's cache,
/// rather than an interrupt to another CPU (costly in a virtual machine).
/// Measured with a hundred readers on two CPUs: see docs/architecture.md,
/// "Decisions".
public enum CPUAffinity {
    /// The CPUs this process may run on, ascending; empty when the kernel does not say.
    public static func allowed() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let n = csim_allowed_cpus(&cpus, Int32(cpus.count))
        return n > 0 ? cpus.prefix(Int(n)).map(Int.init) : []
    }

    /// The CPUs another process's main thread may run on (`Cpus_allowed_list` in
    /// its /proc status), ascending; empty when it is gone or the kernel does not say.
    public static func allowed(pid: Int32) -> [Int] {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return [] }
        defer { fclose(file) }
        let key = "Cpus_allowed_list:"
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard line.hasPrefix(key) else { continue }
            return parse(String(line.dropFirst(key.count).filter { !$0.isWhitespace })) ?? []
        }
        return []
    }

    /// CPUs written as ranges, `0-3,6` (``describe(_:)``'s notation), ascending; nil when the text is not that.
    public static func parse(_ list: String) -> [Int]? {
        var cpus: Set<Int> = []
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(bounds.count), let lo = bounds.first ?? nil, let hi = bounds.last ?? nil,
                  lo >= 0, hi >= lo, hi < 65_536 else { return nil }
            cpus.formUnion(lo...hi)
        }
        return cpus.sorted()
    }

    /// Pins the calling thread, and every thread it starts afterwards, to `cpu`.
    /// Call it before the ZeroMQ context is made, so libzmq's threads inherit it.
    /// - Throws: ``CPUAffinityError`` when the CPU is not one this process may use.
    public static func pin(to cpu: Int) throws {
        let allowed = allowed()
        guard mayUse(cpu, allowed: allowed) else {
            throw CPUAffinityError(cpu: cpu, allowed: allowed, errno: EINVAL)
        }
        let rc = csim_pin_cpu(Int32(cpu))
        if rc != 0 { throw CPUAffinityError(cpu: cpu, allowed: allowed, errno: rc) }
    }

    /// Whether `cpu` is one of `allowed` (any CPU when the kernel did not say).
    public static func mayUse(_ cpu: Int, allowed: [Int]) -> Bool {
        cpu >= 0 && (allowed.isEmpty || allowed.contains(cpu))
    }

    /// CPUs as ranges, `0-3,6` (the notation of taskset and /sys).
    public static func describe(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// A CPU a process cannot be pinned to.
public struct CPUAffinityError: Error, CustomStringConvertible {
    public let cpu: Int
    public let allowed: [Int]
    public let errno: Int32
    public var description: String {
        let why = errno == EINVAL ? "not one this process may run on" : String(cString: strerror(errno))
        return "cannot pin to CPU \(cpu): \(why) (allowed: \(allowed.isEmpty ? "unknown" : CPUAffinity.describe(allowed)))"
    }
}
