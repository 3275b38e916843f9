#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Free TCP ports on the loopback for the nodes' listening sockets, chosen
/// at random below the kernel's ephemeral range.
///
/// Not from the ephemeral range (`net.ipv4.ip_local_port_range`): the kernel
/// takes the source port of every outgoing connection, and every bind to
/// port 0, from there, so a port found free and released can be taken by any
/// process's next `connect` before the node binds it (two runs started
/// together beside a busy test suite: "Address already in use"). Below that
/// range only other listeners compete, and a random choice among 20 000 and
/// more ports makes two allocators meeting unlikely. A port is handed out
/// once per process.
enum PortAllocator {
    nonisolated(unsafe) private static var used: Set<UInt16> = []

    /// The lowest port handed out.
    static let lowest: UInt16 = 10_000

    /// A port nobody listens on now and this process has not handed out before.
    static func next() -> UInt16 {
        if let range = listeningRange() {
            for _ in 0..<1_000 {
                let port = UInt16.random(in: range)
                if !used.contains(port), bindable(port) == port {
                    used.insert(port)
                    return port
                }
            }
        }
        // No room below the ephemeral range (or all of it in use): a port the kernel picks.
        for _ in 0..<100 {
            if let port = bindable(0), used.insert(port).inserted { return port }
        }
        preconditionFailure("no free TCP port on 127.0.0.1")
    }

    /// The ports below the ephemeral range, from ``lowest``; nil when fewer than 1 000.
    static func listeningRange(procFile: String = "/proc/sys/net/ipv4/ip_local_port_range") -> ClosedRange<UInt16>? {
        guard let text = try? String(contentsOfFile: procFile, encoding: .utf8),
              let first = text.split(whereSeparator: \.isWhitespace).first, let low = UInt16(first),
              low > lowest, low - lowest >= 1_000
        else { return nil }
        return lowest...(low - 1)
    }

    /// Binds 127.0.0.1:`port` (0: one the kernel picks) and releases it; the port bound, or nil.
    private static func bindable(_ port: UInt16) -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { return nil }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }
}
