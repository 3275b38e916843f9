/// The snapshots a query reader keeps for `GetVersion`: the latest
/// `capacity` versions (`--history-size`), within `budget` bytes, oldest
/// dropped first. The latest snapshot is always kept, however large.
struct SnapshotHistory {
    struct Entry {
        var version: UInt64
        var epoch: UInt64
        var bytes: [UInt8]
    }

    private var slots: [Entry?]
    /// The slot of the oldest entry.
    private var start = 0
    private(set) var count = 0
    /// The bytes of the snapshots kept.
    private(set) var bytes = 0
    let budget: Int

    init(capacity: Int, budget: Int) {
        slots = Array(repeating: nil, count: max(1, capacity))
        self.budget = budget
    }

    var capacity: Int { slots.count }

    /// Keeps a snapshot as the latest, dropping the oldest ones it has no room for.
    mutating func append(version: UInt64, epoch: UInt64, bytes encoded: [UInt8]) {
        while count > 0 && (count == capacity || bytes + encoded.count > budget) {
            bytes -= slots[start]?.bytes.count ?? 0
            slots[start] = nil
            start = (start + 1) % capacity
            count -= 1
        }
        slots[(start + count) % capacity] = Entry(version: version, epoch: epoch, bytes: encoded)
        count += 1
        bytes += encoded.count
    }

    /// The latest snapshot kept.
    var latest: Entry? { count > 0 ? slots[(start + count - 1) % capacity] : nil }

    /// The entries kept, oldest first.
    var entries: [Entry] { (0..<count).compactMap { slots[(start + $0) % capacity] } }

    /// The lowest version kept (versions restart with a new epoch), or 0 when none is.
    var oldestVersion: UInt64 {
        var lowest: UInt64?
        for i in 0..<count { if let v = slots[(start + i) % capacity]?.version { lowest = min(lowest ?? v, v) } }
        return lowest ?? 0
    }

    /// The snapshot of `version`, if kept.
    func find(version: UInt64) -> [UInt8]? {
        for i in 0..<count { if let e = slots[(start + i) % capacity], e.version == version { return e.bytes } }
        return nil
    }
}
