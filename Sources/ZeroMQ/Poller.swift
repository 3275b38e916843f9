import CZeroMQ

/// Waits for several sockets and file descriptors at once (`zmq_poll`).
///
/// Sockets are registered by borrowing: the poller keeps only libzmq's handle,
/// so the caller must keep every added socket alive (not closed, not consumed)
/// for as long as the poller is used.
public struct Poller {
    /// Conditions to wait for, and the conditions found (`ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR`).
    public struct Events: OptionSet, Sendable, Hashable {
        /// The `ZMQ_POLL*` bits.
        public let rawValue: Int16

        /// Creates a set from `ZMQ_POLL*` bits.
        /// - Parameters:
        ///   - rawValue: The bits.
        public init(rawValue: Int16) { self.rawValue = rawValue }

        /// `ZMQ_POLLIN`: a message can be received (or the fd is readable).
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        /// `ZMQ_POLLOUT`: a message can be sent (or the fd is writable).
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
        /// `ZMQ_POLLERR`: an error condition on a file descriptor.
        public static let error = Events(rawValue: Int16(ZMQ_POLLERR))
    }

    private var items: [zmq_pollitem_t] = []

    /// Creates an empty poller.
    public init() {}

    /// The number of registered items.
    public var count: Int { items.count }

    /// Registers a socket.
    /// - Parameters:
    ///   - socket: The socket; it must stay open while the poller is used.
    ///   - events: What to wait for.
    /// - Returns: The item's index, for ``events(at:)``.
    @discardableResult
    public mutating func add(_ socket: borrowing Socket, events: Events = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Registers a raw file descriptor (e.g. a pipe or an eventfd).
    /// - Parameters:
    ///   - fileDescriptor: The descriptor; it must stay open while the poller is used.
    ///   - events: What to wait for.
    /// - Returns: The item's index, for ``events(at:)``.
    @discardableResult
    public mutating func add(fileDescriptor: Int32, events: Events = .readable) -> Int {
        precondition(fileDescriptor >= 0, "invalid file descriptor \(fileDescriptor)")
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Waits until an item is ready or `timeout` passes (`zmq_poll`).
    ///
    /// `EINTR` is retried with the remaining time.
    /// - Parameters:
    ///   - timeout: How long to wait; `nil` waits forever, `.zero` does not block.
    /// - Returns: How many items are ready; see ``events(at:)``.
    /// - Throws: ``ZMQError``, e.g. ``ZMQError/Code/terminated`` if a socket's context was shut down.
    public mutating func poll(timeout: Duration?) throws -> Int {
        precondition(timeout != nil || !items.isEmpty, "polling no items without a timeout would block forever")
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        let count = Int32(items.count)
        return Int(try items.withUnsafeMutableBufferPointer { buffer throws(ZMQError) in
            try valueOrThrow("zmq_poll (\(count) items)") {
                let ms = deadline.map { Int(milliseconds(max(.zero, clock.now.duration(to: $0)))) } ?? -1
                return zmq_poll(buffer.baseAddress, count, ms)
            }
        })
    }

    /// The conditions found on an item by the last ``poll(timeout:)``.
    /// - Parameters:
    ///   - index: The index returned when the item was added.
    /// - Returns: The ready conditions; empty if none.
    public func events(at index: Int) -> Events {
        Events(rawValue: items[index].revents)
    }
}
