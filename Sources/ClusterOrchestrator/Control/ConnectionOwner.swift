import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which process holds the other end of a TCP connection the orchestrator
/// accepted, from the kernel's tables in /proc: under a launcher that starts
/// the processes, a node's HELLO must come over a connection its own process
/// holds, which no other process can fake (a pid in a HELLO is only a number).
enum ConnectionOwner {
    /// Whether process `pid` holds the socket at the other end of `fd`, a
    /// connection the orchestrator's ROUTER accepted (`getsockname`,
    /// `getpeername`). The connection is looked up in the process's own view
    /// of TCP (`/proc/PID/net/tcp` and `tcp6`: its network namespace's), and
    /// the socket's inode among its descriptors (`/proc/PID/fd`).
    /// - Returns: false when it does not, and when it cannot be told (the
    ///   connection is gone, /proc is not readable).
    static func isHeld(by pid: Int32, otherEndOf fd: Int32) -> Bool {
        guard let ours = address(fd, peer: false), let theirs = address(fd, peer: true),
              let inode = inode(pid: pid, local: theirs, remote: ours) else { return false }
        let fds = "/proc/\(pid)/fd"
        let target = "socket:[\(inode)]"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + entry)) == target { return true }
        }
        return false
    }

    /// One end of a TCP connection, as /proc/net/tcp* writes it: the address
    /// in hexadecimal 32-bit words of the bytes in memory, the port in hexadecimal.
    struct Endpoint: Equatable {
        var address: String
        var port: String
        var v6: Bool
    }

    /// The local (or, with `peer`, the remote) end of the socket `fd`.
    static func address(_ fd: Int32, peer: Bool) -> Endpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { raw in
                let a = raw.load(as: sockaddr_in.self)
                return Endpoint(address: String(format: "%08X", a.sin_addr.s_addr), port: String(format: "%04X", UInt16(bigEndian: a.sin_port)),
                                v6: false)
            }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { raw in
                let a = raw.load(as: sockaddr_in6.self)
                let words = withUnsafeBytes(of: a.sin6_addr) { b in (0..<4).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) } }
                return Endpoint(address: words.map { String(format: "%08X", $0) }.joined(),
                                port: String(format: "%04X", UInt16(bigEndian: a.sin6_port)), v6: true)
            }
        default:
            return nil
        }
    }

    /// The inode of the socket with these ends in process `pid`'s view of TCP.
    static func inode(pid: Int32, local: Endpoint, remote: Endpoint) -> String? {
        guard let text = readWhole("/proc/\(pid)/net/" + (local.v6 ? "tcp6" : "tcp")) else { return nil }
        let (l, r) = ("\(local.address):\(local.port)", "\(remote.address):\(remote.port)")
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count > 9, f[1] == l, f[2] == r { return String(f[9]) }
        }
        return nil
    }

    /// A /proc file read to its end: it says its size is 0, and the kernel
    /// hands a long table out a page or so per read.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
