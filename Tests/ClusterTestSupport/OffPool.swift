import Foundation

/// Runs blocking work (a process wait, a blocking socket call) on a thread of
/// its own and awaits it, so a test never holds one of the few threads of the
/// cooperative pool: on two cores, a blocked pool stalls every other test.
/// Expectations stay in the awaiting test; `body` only returns values.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        let t = Thread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
        t.stackSize = 4 << 20
        t.start()
    }
}

/// A thread started at once (not when the cooperative pool gets round to a
/// task), whose result is awaited later.
public final class StartedThread<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, Error>?
    private var waiter: CheckedContinuation<T, Error>?

    public init(_ body: @escaping @Sendable () throws -> T) {
        let t = Thread { [self] in
            let r = Result { try body() }
            lock.lock()
            if let w = waiter { waiter = nil; lock.unlock(); w.resume(with: r) } else { result = r; lock.unlock() }
        }
        t.stackSize = 4 << 20
        t.start()
    }

    /// Waits for the thread's result.
    public func value() async throws -> T {
        try await withCheckedThrowingContinuation { c in
            lock.lock()
            if let r = result { lock.unlock(); c.resume(with: r) } else { waiter = c; lock.unlock() }
        }
    }
}
