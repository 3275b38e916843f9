/// A fixed-capacity FIFO queue over one allocation, oldest first.
struct RingBuffer<Element> {
    private var slots: [Element?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a ring buffer needs a positive capacity")
        slots = Array(repeating: nil, count: capacity)
    }

    var capacity: Int { slots.count }
    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == slots.count }

    /// Appends `element`; the buffer must not be full.
    mutating func append(_ element: Element) {
        precondition(!isFull, "append to a full ring buffer")
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
