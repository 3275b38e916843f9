/// A bounded FIFO queue, oldest first.
///
/// Its storage grows by doubling up to `capacity` and then wraps, so a
/// subscriber with a large buffer that is drained promptly costs little
/// memory, and creating one allocates nothing.
struct RingBuffer<Element> {
    private var slots: [Element?] = []
    private var head = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "a ring buffer needs a positive capacity")
        self.capacity = capacity
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == capacity }

    /// Appends `element`; the buffer must not be full.
    mutating func append(_ element: Element) {
        precondition(!isFull, "append to a full ring buffer")
        if count == slots.count { grow() }
        var tail = head + count
        if tail >= slots.count { tail -= slots.count }
        slots[tail] = element
        count += 1
    }

    /// Appends `element`, first removing and returning the oldest one when
    /// the buffer is full.
    mutating func appendEvicting(_ element: Element) -> Element? {
        let evicted = isFull ? popFirst() : nil
        append(element)
        return evicted
    }

    /// Removes and returns the oldest element.
    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = slots[head].take()
        head += 1
        if head == slots.count { head = 0 }
        count -= 1
        return element
    }

    /// Doubles the storage (at least 4 slots, at most `capacity`), moving the
    /// elements to its start.
    private mutating func grow() {
        let size = Swift.min(capacity, Swift.max(4, slots.count * 2))
        var grown: [Element?] = []
        grown.reserveCapacity(size)
        for i in 0..<count {
            var index = head + i
            if index >= slots.count { index -= slots.count }
            grown.append(slots[index].take())
        }
        grown.append(contentsOf: repeatElement(nil, count: size - count))
        slots = grown
        head = 0
    }

    /// The elements, oldest first.
    var elements: [Element] {
        (0..<count).map { i in
            var index = head + i
            if index >= slots.count { index -= slots.count }
            return slots[index]!
        }
    }
}

extension RingBuffer: Sendable where Element: Sendable {}
