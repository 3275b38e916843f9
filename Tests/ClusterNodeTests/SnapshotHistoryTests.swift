import Testing

@testable import ClusterNode

/// The query role's history: its versions and its bytes are both bounded.
@Suite("Snapshot history")
struct SnapshotHistoryTests {
    @Test("keeps the latest capacity versions, oldest dropped first")
    func count() {
        var h = SnapshotHistory(capacity: 3, budget: 1 << 20)
        for v in UInt64(1)...5 { h.append(version: v, epoch: 1, bytes: [UInt8](repeating: 0, count: 10)) }
        #expect(h.entries.map(\.version) == [3, 4, 5] && h.bytes == 30)
        #expect(h.latest?.version == 5 && h.oldestVersion == 3)
        #expect(h.find(version: 4) != nil && h.find(version: 2) == nil)
    }

    @Test("keeps no more bytes than its budget, and always the latest")
    func bytes() {
        var h = SnapshotHistory(capacity: 100, budget: 1_000)
        for v in UInt64(1)...50 { h.append(version: v, epoch: 1, bytes: [UInt8](repeating: 0, count: 300)) }
        #expect(h.count == 3 && h.bytes == 900 && h.oldestVersion == 48)
        h.append(version: 51, epoch: 1, bytes: [UInt8](repeating: 0, count: 5_000))
        #expect(h.count == 1 && h.latest?.version == 51 && h.bytes == 5_000)
        h.append(version: 52, epoch: 1, bytes: [1])
        #expect(h.entries.map(\.version) == [52])
    }
}
