import ClusterCore
#if canImport(Glibc)
import Glibc
#endif

/// Why the netns launcher cannot run here, or nil when it can.
public enum NetnsPreflight {
    /// - Parameters:
    ///   - euid: the effective user id (`geteuid()`).
    ///   - locate: finds a tool's path (tests pass their own).
    /// - Returns: the error to show, naming what is missing and what to do.
    public static func problem(euid: uid_t, transport: Transport = .tcp,
                               locate: (String) -> String? = { SystemCommand.locate($0) }) -> String? {
        guard euid == 0 else {
            return "launcher \"netns\" needs root: it creates network namespaces, veth pairs and a bridge, "
                + "and sets iptables and tc rules for the network faults (run the orchestrator as root, or use --launcher local)"
        }
        let missing = ["ip", "iptables", "tc"].filter { locate($0) == nil }
        guard missing.isEmpty else {
            return "launcher \"netns\" needs \(missing.joined(separator: ", ")), not found in \(SystemCommand.searchPath.joined(separator: ":")) "
                + "(install Debian's iproute2 and iptables packages; scripts/setup.sh does)"
        }
        guard transport == .tcp else {
            return "launcher \"netns\" needs writer.transport \"tcp\": ipc sockets are files and never cross the namespaces' interfaces"
        }
        return nil
    }
}
