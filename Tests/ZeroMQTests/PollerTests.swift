import Foundation
import Testing
import ZeroMQ

@Suite("Poller")
struct PollerTests {
    @Test("only the socket with a message is reported readable")
    func twoSockets() throws {
        let context = try Context()
        let pullA = try context.socket(.pull)
        let pullB = try context.socket(.pull)
        let pushA = try context.socket(.push)
        let pushB = try context.socket(.push)
        let endpoints = Endpoints(.inproc)
        try link(pullA, pushA, endpoints)
        try link(pullB, pushB, endpoints)

        var poller = Poller()
        let a = poller.add(pullA)
        let b = poller.add(pullB, events: .readable)
        #expect(poller.count == 2)
        #expect(try poller.poll(timeout: .milliseconds(20)) == 0)

        try pushB.send("for b")
        #expect(try poller.poll(timeout: patience) == 1)
        #expect(poller.events(at: a).isEmpty)
        #expect(poller.events(at: b) == .readable)
        #expect(try receiveString(pullB, timeout: .zero) == "for b")
    }

    @Test("writable is reported for a socket that can send")
    func writable() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try link(pull, push, Endpoints(.inproc))
        var poller = Poller()
        let index = poller.add(push, events: [.readable, .writable])
        #expect(try poller.poll(timeout: patience) == 1)
        #expect(poller.events(at: index) == .writable)
    }

    @Test("a pipe file descriptor becomes readable after write")
    func pipeDescriptor() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }

        var poller = Poller()
        let index = poller.add(fileDescriptor: fds[0])
        #expect(try poller.poll(timeout: .zero) == 0)
        #expect(poller.events(at: index).isEmpty)

        var byte: UInt8 = 42
        #expect(write(fds[1], &byte, 1) == 1)
        #expect(try poller.poll(timeout: patience) == 1)
        #expect(poller.events(at: index).contains(.readable))
    }
}
