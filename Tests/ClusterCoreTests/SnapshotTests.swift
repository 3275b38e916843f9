import Foundation
import Testing

@testable import ClusterCore

/// A fresh empty directory under the system's temporary directory.
func makeTemporaryDirectory(_ function: String = #function) throws -> String {
    let path = NSTemporaryDirectory() + "clustersim-\(function.prefix { $0 != "(" })-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("Snapshot")
struct SnapshotTests {
    static func initial(historyLimit: Int = 4) -> Snapshot {
        Snapshot.initial(
            epoch: 9, fsmInstanceID: "fsm-1", sourceModule: "writer", historyLimit: historyLimit,
            contextData: Data([1, 2, 3]))
    }

    @Test func initialIsBootingVersionOne() {
        let snapshot = Self.initial()
        #expect(snapshot.version == 1)
        #expect(snapshot.epoch == 9)
        #expect(snapshot.state == .booting)
        #expect(snapshot.prevState == .unspecified)
        #expect(snapshot.snapshotID == "9-1")
        #expect(snapshot.attemptCount == 0)
        #expect(snapshot.history.map(\.to) == [.booting])
        #expect(snapshot.history.first?.version == 1)
        #expect(snapshot.contextData == Data([1, 2, 3]))
    }

    @Test func nextFollowsTheTransition() throws {
        let first = Self.initial()
        let transition = try #require(TransitionTable.transition(from: .booting, on: .bootCompleted))
        let next = first.next(after: transition, attemptCount: 3, historyLimit: 4)
        #expect(next.version == 2)
        #expect(next.epoch == first.epoch)
        #expect(next.state == .idle)
        #expect(next.prevState == .booting)
        #expect(next.reason == transition.reason)
        #expect(next.snapshotID == "9-2")
        #expect(next.attemptCount == 3)
        #expect(next.fsmInstanceID == "fsm-1" && next.sourceModule == "writer")
        #expect(next.monotonicNanos >= first.monotonicNanos)
        #expect(next.contextData == first.contextData)
        #expect(next.history.last == HistoryEntry(
            from: .booting, to: .idle, event: "boot_completed", reason: transition.reason, version: 2,
            wallNanos: next.wallNanos))
        #expect(next.next(after: transition, attemptCount: 0, historyLimit: 4, contextData: Data([7])).contextData
            == Data([7]))
    }

    @Test func historyIsBoundedOldestFirst() {
        var machine = StateMachine(state: .booting)
        var snapshot = Self.initial(historyLimit: 5)
        var events = EventGenerator(seed: 11)
        while snapshot.version < 50 {
            if case .success(let t) = machine.apply(events.next(for: machine.state)) {
                snapshot = snapshot.next(after: t, attemptCount: machine.attemptCount, historyLimit: 5)
            }
        }
        #expect(snapshot.history.count == 5)
        #expect(snapshot.history.map(\.version) == [46, 47, 48, 49, 50])
        #expect(snapshot.history.last?.to == snapshot.state)
    }

    @Test func withVersionRestampsVersionAndID() {
        let snapshot = Self.initial()
        let moved = snapshot.withVersion(42)
        #expect(moved.version == 42)
        #expect(moved.snapshotID == "9-42")
        #expect(moved.history == snapshot.history)
        #expect(moved.state == snapshot.state && moved.wallNanos == snapshot.wallNanos)
        #expect(moved != snapshot)
        #expect(moved.withVersion(1) == snapshot)
    }

    @Test func idIsEpochDashVersion() {
        #expect(Snapshot.makeID(epoch: 0, version: 0) == "0-0")
        #expect(Snapshot.makeID(epoch: 1_700_000_000_123, version: 42) == "1700000000123-42")
        #expect(Snapshot.makeID(epoch: .max, version: .max) == "\(UInt64.max)-\(UInt64.max)")
    }

    @Test func jsonRoundTrip() throws {
        let snapshot = Self.initial().next(
            after: TransitionTable.transition(from: .booting, on: .fail)!, attemptCount: 1, historyLimit: 4)
        let data = try JSONEncoder().encode(snapshot)
        #expect(try JSONDecoder().decode(Snapshot.self, from: data) == snapshot)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["version"] as? Int == 2)
        #expect(object["state"] as? Int == FSMState.errorState.rawValue)
    }
}

@Suite("Snapshot file")
struct SnapshotFileTests {
    @Test func missingFileIsMissing() throws {
        let file = SnapshotFile(directory: try makeTemporaryDirectory())
        guard case .missing = file.load() else {
            Issue.record("expected .missing")
            return
        }
    }

    @Test func saveThenLoadRoundTrips() throws {
        let directory = try makeTemporaryDirectory() + "/nested/state"
        let file = SnapshotFile(directory: directory)
        let first = SnapshotTests.initial()
        try file.save(first)
        let second = first.next(
            after: TransitionTable.transition(from: .booting, on: .bootCompleted)!, attemptCount: 0, historyLimit: 4)
        try file.save(second)
        guard case .restored(let loaded) = file.load() else {
            Issue.record("expected .restored")
            return
        }
        #expect(loaded == second)
        // The temporary file is renamed away, never left behind.
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(entries == ["writer-state.json"])
    }

    @Test(arguments: [
        ("garbage", Data([0xFF, 0x00, 0x13, 0x37])),
        ("truncated", Data(#"{"version":3,"epoch":1,"state":2,"#.utf8)),
        ("wrong shape", Data(#"{"version":"three"}"#.utf8)),
        ("empty", Data()),
    ])
    func corruptFileIsCorrupt(_ name: String, _ contents: Data) throws {
        let file = SnapshotFile(directory: try makeTemporaryDirectory())
        try contents.write(to: URL(fileURLWithPath: file.path))
        guard case .corrupt(let reason) = file.load() else {
            Issue.record("\(name): expected .corrupt")
            return
        }
        #expect(reason.contains(file.path))
    }

    @Test func truncatedRealFileIsCorrupt() throws {
        let file = SnapshotFile(directory: try makeTemporaryDirectory())
        try file.save(SnapshotTests.initial())
        let data = try Data(contentsOf: URL(fileURLWithPath: file.path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: file.path))
        guard case .corrupt = file.load() else {
            Issue.record("expected .corrupt")
            return
        }
    }

    @Test("a saved version or epoch at the limit of the counters is corrupt, not a crash at restart",
          arguments: [(UInt64.max, UInt64(7)), (UInt64(7), UInt64.max), (VersionTracker.plausibleLimit, UInt64(7))])
    func versionAtTheLimitIsCorrupt(_ version: UInt64, _ epoch: UInt64) throws {
        let file = SnapshotFile(directory: try makeTemporaryDirectory())
        let s = Snapshot.initial(epoch: epoch, fsmInstanceID: "fsm-1", sourceModule: "writer", historyLimit: 4,
                                 contextData: Data([1])).withVersion(version)
        try file.save(s)
        guard case .corrupt(let reason) = file.load() else {
            Issue.record("expected .corrupt for version \(version) epoch \(epoch)")
            return
        }
        #expect(reason.contains("beyond what any writer reaches"), "\(reason)")
    }

    @Test("a state file larger than any snapshot is refused before it is read")
    func hugeFileIsRefused() throws {
        let file = SnapshotFile(directory: try makeTemporaryDirectory())
        let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(SnapshotFile.maxFileBytes + 1)) == 0)   // sparse: no disk used
        close(fd)
        guard case .corrupt(let reason) = file.load() else {
            Issue.record("expected .corrupt")
            return
        }
        #expect(reason.contains("more than a snapshot can be"), "\(reason)")
    }

    @Test func saveFailureNamesThePath() throws {
        let parent = try makeTemporaryDirectory()
        // A regular file where the directory should be.
        try Data().write(to: URL(fileURLWithPath: parent + "/blocker"))
        let file = SnapshotFile(directory: parent + "/blocker")
        #expect {
            try file.save(SnapshotTests.initial())
        } throws: { error in
            "\(error)".contains(parent + "/blocker")
        }
    }
}
