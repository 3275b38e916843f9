import Testing
import ZeroMQ

@Suite("Lifetime")
struct LifetimeTests {
    @Test("sockets keep their context alive; it terminates after the last socket closes")
    func contextOutlivesSockets() throws {
        weak var weakContext: Context?
        let a: Socket
        let b: Socket
        do {
            let context = try Context()
            weakContext = context
            a = try context.socket(.pair)
            b = try context.socket(.pair)
        }
        #expect(weakContext != nil)

        try a.setLinger(.zero)
        try b.setLinger(.zero)
        try link(a, b, Endpoints(.inproc))
        try b.send("still works")
        #expect(try receiveString(a) == "still works")
        try a.send("pending, dropped at close")

        a.close()
        #expect(weakContext != nil)
        b.close()
        #expect(weakContext == nil)
    }

    @Test("a socket moved to another thread keeps working")
    func moveAcrossThreads() async throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try link(pull, push, Endpoints(.inproc))

        let sender = Task.detached { [push = consume push] in
            _ = try push.send("from another thread")
        }
        try await sender.value
        #expect(try receiveString(pull) == "from another thread")
    }

    @Test("shutdown wakes a blocked receive with terminated")
    func shutdownWakesReceive() async throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind(Endpoints(.inproc).next())
        try pull.setReceiveTimeout(patience)

        let receiver = Task.detached { [pull = consume pull] () -> ZMQError.Code? in
            do {
                _ = try pull.receive()
                return nil
            } catch let error as ZMQError {
                return error.code
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        try context.shutdown()
        #expect(try await receiver.value == .terminated)
    }
}
