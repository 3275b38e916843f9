#if canImport(Glibc)
import Glibc
#endif

/// Free TCP ports on the loopback, found by binding port 0 and releasing it.
///
/// A port is handed out once per process: the kernel may offer a port again
/// as soon as it is released, before the node meant to bind it has.
enum PortAllocator {
    nonisolated(unsafe) private static var used: Set<UInt16> = []

    /// A port nobody listens on now and this process has not handed out before.
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
