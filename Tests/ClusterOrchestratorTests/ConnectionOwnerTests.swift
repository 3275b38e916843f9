import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import ClusterOrchestrator

/// Which process holds the other end of a connection, read from /proc.
@Suite("Connection owner")
struct ConnectionOwnerTests {
    /// A listening socket on 127.0.0.1 and a connection to it from this process: (accepted, client).
    func connection() throws -> (accepted: Int32, client: Int32) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try #require(withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
        } })
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } } == 0)
        let accepted = accept(listener, nil, nil)
        try #require(accepted >= 0)
        return (accepted, client)
    }

    @Test("the other end of a connection is held by the process that holds it, and by no other")
    func owner() throws {
        let (accepted, client) = try connection()
        defer { close(accepted); close(client) }
        #expect(ConnectionOwner.isHeld(by: getpid(), otherEndOf: accepted))
        #expect(!ConnectionOwner.isHeld(by: getppid(), otherEndOf: accepted))
        #expect(!ConnectionOwner.isHeld(by: getpid(), otherEndOf: -1), "no connection: cannot be told, so not held")
    }

    @Test("the connection is found among many: the whole TCP table is read, however long")
    func longTable() throws {
        // Far more than a page of /proc/net/tcp (150 bytes a line): ours last.
        let many = try (0..<200).map { _ in try connection() }
        defer { for (a, c) in many { close(a); close(c) } }
        let (accepted, client) = try connection()
        defer { close(accepted); close(client) }
        #expect(ConnectionOwner.isHeld(by: getpid(), otherEndOf: accepted))
    }

    @Test("a closed connection is held by nobody")
    func closed() throws {
        let (accepted, client) = try connection()
        defer { close(accepted) }
        close(client)
        usleep(50_000)
        #expect(!ConnectionOwner.isHeld(by: getpid(), otherEndOf: accepted))
    }
}
