import CZeroMQ
import Foundation

/// Heap storage for one `zmq_msg_t`, allocated together with its header.
///
/// A `zmq_msg_t` must never be copied bit-wise once initialised; tail
/// allocation keeps it at one stable address for its whole life.
final class MessageStorage: ManagedBuffer<Void, zmq_msg_t> {
    /// Allocates storage and initialises an empty message (`zmq_msg_init`).
    static func make() -> MessageStorage {
        let storage = unsafeDowncast(MessageStorage.create(minimumCapacity: 1) { _ in () }, to: MessageStorage.self)
        storage.withUnsafeMutablePointerToElements { _ = zmq_msg_init($0) }
        return storage
    }

    /// The stable address of the message.
    @inline(__always)
    var pointer: UnsafeMutablePointer<zmq_msg_t> {
        withUnsafeMutablePointerToElements { $0 }
    }

    deinit {
        withUnsafeMutablePointerToElements { _ = zmq_msg_close($0) }
    }
}

/// One received frame, owning its `zmq_msg_t` (closed with `zmq_msg_close`
/// when the last copy goes away).
///
/// `Message` is a copyable value so frames can be collected in an array
/// (`[Message]` from ``Socket/receiveMultipart(dontWait:)``); Swift arrays
/// cannot hold non-copyable elements. Copies share the same immutable frame;
/// nothing is copied until you ask for ``bytes``, ``data`` or ``string``.
///
/// The frame is never mutated after it has been received, so sharing it
/// between threads is safe, hence `@unchecked Sendable`.
public struct Message: @unchecked Sendable {
    let storage: MessageStorage

    /// Creates an empty message ready to be received into.
    init() { storage = MessageStorage.make() }

    /// The number of bytes in the frame (`zmq_msg_size`).
    public var count: Int { zmq_msg_size(storage.pointer) }

    /// Whether more frames of the same multipart message follow (`zmq_msg_more`).
    public var more: Bool { zmq_msg_more(storage.pointer) != 0 }

    /// Calls `body` with the frame's bytes (`zmq_msg_data`), without copying.
    /// - Parameters:
    ///   - body: Receives the bytes; the buffer must not escape the closure.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let pointer = storage.pointer
        let result = try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
        withExtendedLifetime(storage) {}
        return result
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// A copy of the frame's bytes as `Data`.
    public var data: Data { withUnsafeBytes { Data($0) } }

    /// The frame decoded as UTF-8; invalid sequences become U+FFFD.
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// A metadata property of the connection the frame came over (`zmq_msg_gets`),
    /// e.g. `User-Id` (what the ZAP handler said of the peer), `Peer-Address`, `Socket-Type`.
    /// - Parameters:
    ///   - property: The property's name.
    /// - Returns: Its value, or nil when the connection has no such property.
    public func metadata(_ property: String) -> String? {
        guard let value = zmq_msg_gets(storage.pointer, property) else { return nil }
        return String(cString: value)
    }
}

/// One `zmq_msg_t` received into again and again, for a loop that takes a
/// frame per iteration without allocating, copying or capturing anything
/// (``Socket/receive(into:dontWait:)``).
///
/// The frame's bytes stay valid until the next receive into the same buffer
/// (a failed one included: libzmq empties the message first), ``release()``,
/// or the end of the buffer's life. Non-copyable: the `zmq_msg_t` lives at
/// one address and is closed exactly once.
///
/// Release a frame once it is handled, before waiting for the next one. A
/// frame above 33 bytes is not copied out of the socket's receive batch: it
/// points into it and holds a reference, and while any frame holds one the
/// I/O thread cannot reuse the batch for its next read: it allocates a new
/// one (8 KB of data and room for the headers of the frames sliced from
/// it) and the last frame's release frees the old one. A frame held
/// through the wait costs an allocation and a free, and fresh cold memory
/// for every read.
public struct ReceiveBuffer: ~Copyable {
    @usableFromInline let message: UnsafeMutablePointer<zmq_msg_t>

    /// An empty buffer (`zmq_msg_init`).
    public init() {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// The bytes of the frame last received into this buffer; empty before the first.
    @inlinable
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
    }

    /// Lets go of the frame (`zmq_msg_close`, then `zmq_msg_init`): its bytes,
    /// and its hold on the socket's receive batch; ``bytes`` is empty after.
    @inlinable
    public func release() {
        zmq_msg_close(message)
        zmq_msg_init(message)
    }

    /// Whether more frames of the same message follow the one in this buffer.
    @inlinable
    public var more: Bool { zmq_msg_more(message) != 0 }
}
