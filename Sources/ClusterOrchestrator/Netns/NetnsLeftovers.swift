import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension NetnsNetwork {
    /// Removes namespaces, bridges, veths and forward rules of earlier runs whose
    /// orchestrator is no longer alive (killed runs cannot clean up).
    /// - Returns: what was removed, one entry per object.
    public static func removeLeftovers(isAlive: (Int32) -> Bool = NetnsNetwork.orchestratorAlive) -> [String] {
        var removed: [String] = []
        func dead(_ name: String, prefix: String) -> Bool {
            guard name.hasPrefix(prefix) else { return false }
            let rest = name.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let pid = Int32(digits), !digits.isEmpty else { return false }
            let tail = rest.dropFirst(digits.count)
            guard tail.isEmpty || (tail.first == "-" && tail.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) && tail.count > 1) else { return false }
            return !isAlive(pid)
        }
        for line in SystemCommand.run(["ip", "netns", "list"]).output.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            if dead(name, prefix: namespacePrefix), SystemCommand.run(["ip", "netns", "del", name]).ok { removed.append("namespace \(name)") }
        }
        // `ip -o link` lines: "12: csv123-1@if2: <…" — the name ends at '@' or ':'.
        for line in SystemCommand.run(["ip", "-o", "link", "show"]).output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = String(fields[1].prefix { $0 != "@" && $0 != ":" })
            if dead(name, prefix: bridgePrefix) || dead(name, prefix: vethPrefix),
               SystemCommand.run(["ip", "link", "del", name]).ok { removed.append("interface \(name)") }
        }
        for line in SystemCommand.run(["iptables", "-S", "FORWARD"]).output.split(separator: "\n") where line.hasPrefix("-A FORWARD ") {
            guard let r = line.range(of: "--comment \"\(forwardComment) ") ?? line.range(of: "--comment \(forwardComment) ") else { continue }
            let name = String(line[r.upperBound...].prefix { $0 != "\"" && $0 != " " })
            guard dead(name, prefix: bridgePrefix) else { continue }
            if SystemCommand.run(["iptables", "-D"] + forwardRule(bridge: name)).ok { removed.append("iptables rule for \(name)") }
        }
        return removed
    }

    /// Whether `pid` is a live orchestrator (a reused pid of another program is not).
    public static func orchestratorAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "orchestrator"
    }
}
