import Foundation
import Testing
@testable import ClusterOrchestrator

@Suite("Port allocator")
struct PortAllocatorTests {
    func rangeFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("port-range-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("ports come from below the kernel's ephemeral range, as /proc gives it")
    func range() throws {
        let standard = try rangeFile("32768\t60999\n")
        defer { unlink(standard) }
        #expect(PortAllocator.listeningRange(procFile: standard) == 10_000...32_767)
        let wide = try rangeFile("1024 65535\n")
        defer { unlink(wide) }
        #expect(PortAllocator.listeningRange(procFile: wide) == nil, "no room below it: the kernel picks")
        #expect(PortAllocator.listeningRange(procFile: "/nonexistent/ip_local_port_range") == nil)
    }

    @Test("every port handed out is different, outside the ephemeral range here, and free")
    func distinct() throws {
        let ports = (0..<50).map { _ in PortAllocator.next() }
        #expect(Set(ports).count == ports.count)
        if let range = PortAllocator.listeningRange() {
            #expect(ports.allSatisfy(range.contains), "\(ports)")
        }
        // Free now: a listener can bind the last one.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = ports.last!.bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(ok == 0, "port \(ports.last!) could not be bound: errno \(errno)")
    }
}
