import Testing

@testable import ClusterCore

@Suite("VersionTracker")
struct VersionTrackerTests {
    /// Feeds versions of one epoch; returns the outcomes.
    @discardableResult
    static func feed(_ tracker: inout VersionTracker, epoch: UInt64 = 1, _ versions: [UInt64]) -> [VersionTracker.Outcome] {
        versions.map { tracker.observe(epoch: epoch, version: $0) }
    }

    @Test("a writer restarted from its saved state: the versions of its new epoch before the reader's first are lost, once")
    func epochStartAfterRestart() {
        var t = VersionTracker()
        Self.feed(&t, epoch: 1, Array(1...2_519))
        t.epochStarted(epoch: 1, firstVersion: 1)        // the reader's first epoch owes nothing
        #expect(t.lost == 0)
        // Restarted at 2 401 (its state saved a second earlier); the reader got back at 2 482.
        #expect(t.observe(epoch: 2, version: 2_482) == .newEpoch(previous: 1))
        Self.feed(&t, epoch: 2, Array(2_483...2_600))
        #expect(t.lost == 0)                               // not known until the writer says where the epoch began
        t.epochStarted(epoch: 2, firstVersion: 2_401)
        t.epochStarted(epoch: 2, firstVersion: 2_401)      // said again by every heartbeat: counted once
        #expect(t.lostAtEpochStart == 81 && t.lost == 81 && t.counters["lost_at_epoch_start"] == 81)
        t.finish(finalEpoch: 2, finalVersion: 2_610)
        #expect(t.lost == 81 + 10)
    }

    @Test("an epoch entered by a snapshot, or whose first version the reader held, owes nothing; under conflate it is skipped")
    func epochStartOwedNothing() {
        var bySnapshot = VersionTracker()
        Self.feed(&bySnapshot, epoch: 1, Array(1...10))
        bySnapshot.applySnapshot(epoch: 2, version: 50)
        bySnapshot.epochStarted(epoch: 2, firstVersion: 11)
        #expect(bySnapshot.lost == 0)

        var fromFirst = VersionTracker()
        Self.feed(&fromFirst, epoch: 1, Array(1...10))
        Self.feed(&fromFirst, epoch: 2, Array(11...20))
        fromFirst.epochStarted(epoch: 2, firstVersion: 11)
        #expect(fromFirst.lost == 0)

        var conflating = VersionTracker(gapsAreSkips: true)
        Self.feed(&conflating, epoch: 1, Array(1...10))
        Self.feed(&conflating, epoch: 2, Array(15...20))
        conflating.epochStarted(epoch: 2, firstVersion: 11)
        #expect(conflating.lost == 0 && conflating.skipped == 4)
    }

    @Test func inOrderStreamLosesNothing() {
        var t = VersionTracker()
        let outcomes = Self.feed(&t, Array(1...100))
        #expect(outcomes.first == .first)
        #expect(outcomes.dropFirst().allSatisfy { $0 == .inOrder })
        #expect(t.epoch == 1 && t.highest == 100 && t.firstInEpoch == 1)
        #expect(t.received == 100 && t.applied == 100)
        #expect(t.lost == 0 && t.gaps == 0 && t.skipped == 0 && t.duplicates == 0 && t.stale == 0)
    }

    @Test("versions the writer coalesced into a frame are skipped, not lost; a gap below them still is")
    func coalescedVersionsAreSkipped() {
        var t = VersionTracker()
        Self.feed(&t, Array(1...10))
        // 11…19 folded into 20's frame.
        #expect(t.observe(epoch: 1, version: 20, coalesced: 9) == .inOrder)
        #expect(t.lost == 0 && t.gaps == 0 && t.skipped == 9 && t.coalesced == 9 && t.highest == 20)
        // 21…25 lost on the way, 26…29 folded into 30's frame.
        #expect(t.observe(epoch: 1, version: 30, coalesced: 4) == .gap(missing: 21...25))
        #expect(t.lost == 5 && t.gaps == 1 && t.skipped == 13 && t.coalesced == 13)
        // A frame claiming more folded versions than the jump covers counts only the jump.
        #expect(t.observe(epoch: 1, version: 31, coalesced: 7) == .inOrder)
        #expect(t.coalesced == 13 && t.counters["coalesced"] == 13)
    }

    @Test(arguments: [(5, 6), (5, 7), (5, 105), (1, 1_000_001)] as [(UInt64, UInt64)])
    func gapOfKnownSizeIsLost(before: UInt64, after: UInt64) {
        var t = VersionTracker()
        Self.feed(&t, Array(1...before))
        let outcome = t.observe(epoch: 1, version: after)
        let missing = after - before - 1
        if missing == 0 {
            #expect(outcome == .inOrder)
        } else {
            #expect(outcome == .gap(missing: (before + 1)...(after - 1)))
        }
        #expect(t.gaps == (missing > 0 ? 1 : 0))
        #expect(t.lostInGaps == missing && t.lost == missing)
        #expect(t.skipped == 0)
        #expect(t.highest == after)
        #expect(t.applied == before + 1)
    }

    @Test func severalGapsAddUp() {
        var t = VersionTracker()
        Self.feed(&t, [1, 2, 4, 5, 9, 10, 20])
        #expect(t.gaps == 3)
        #expect(t.lostInGaps == 1 + 3 + 9)
    }

    @Test func duplicatesAreCountedNotApplied() {
        var t = VersionTracker()
        let outcomes = Self.feed(&t, [1, 2, 2, 3, 3, 3])
        #expect(outcomes == [.first, .inOrder, .duplicate, .inOrder, .duplicate, .duplicate])
        #expect(t.duplicates == 3 && t.applied == 3 && t.received == 6 && t.lost == 0)
    }

    @Test func outOfOrderArrivalDoesNotUndoTheGap() {
        // The gap is counted when it is seen; a version arriving late afterwards
        // is counted out of order, and the gap stays counted as lost.
        var t = VersionTracker()
        let outcomes = Self.feed(&t, [1, 2, 5, 3, 4, 6])
        #expect(outcomes == [.first, .inOrder, .gap(missing: 3...4), .outOfOrder, .outOfOrder, .inOrder])
        #expect(t.outOfOrder == 2 && t.lostInGaps == 2 && t.highest == 6)
    }

    @Test func updatesAtOrBelowAFetchedSnapshotAreStale() {
        var t = VersionTracker()
        Self.feed(&t, [1, 2])
        let jumped = t.applySnapshot(epoch: 1, version: 10, skipping: false)
        #expect(jumped == 8)
        #expect(t.coveredBySnapshot == 8 && t.skipped == 0 && t.lost == 0)
        #expect(Self.feed(&t, [3, 9, 10, 11, 11]) == [.stale, .stale, .stale, .inOrder, .duplicate])
        #expect(t.stale == 3 && t.duplicates == 1 && t.highest == 11)
    }

    @Test func lateJoinerSubscribesThenAsks() {
        // Clone pattern: updates 5 and 6 arrive, then the snapshot at 5: nothing moves.
        var t = VersionTracker()
        Self.feed(&t, [5, 6])
        #expect(t.firstInEpoch == 5)
        #expect(t.applySnapshot(epoch: 1, version: 5) == 0)
        #expect(t.highest == 6 && t.snapshotsApplied == 1)
        #expect(t.observe(epoch: 1, version: 5) == .stale)
        #expect(t.observe(epoch: 1, version: 7) == .inOrder)
        #expect(t.lost == 0 && t.skipped == 0)
    }

    @Test func snapshotBeforeAnyUpdateSetsTheStart() {
        var t = VersionTracker()
        #expect(t.applySnapshot(epoch: 3, version: 100) == 0)
        #expect(t.epoch == 3 && t.highest == 100 && t.firstInEpoch == 100)
        #expect(t.epochChanges == 0)  // the first epoch is not a change
        #expect(t.observe(epoch: 3, version: 99) == .stale)
        #expect(t.observe(epoch: 3, version: 101) == .inOrder)
        #expect(t.lost == 0)
    }

    @Test(arguments: [true, false])
    func snapshotJumpingAhead(skipping: Bool) {
        var t = VersionTracker()
        Self.feed(&t, [1, 2, 3])
        #expect(t.applySnapshot(epoch: 1, version: 10, skipping: skipping) == 7)
        #expect(t.coveredBySnapshot == 7)
        #expect(t.skipped == (skipping ? 7 : 0))
        #expect(t.lost == 0)
        #expect(t.highest == 10)
        // An older snapshot moves nothing.
        #expect(t.applySnapshot(epoch: 1, version: 4, skipping: skipping) == 0)
        #expect(t.highest == 10 && t.snapshotsApplied == 2)
    }

    @Test func snapshotOfAnOlderEpochIsIgnored() {
        var t = VersionTracker()
        Self.feed(&t, epoch: 5, [1, 2])
        #expect(t.applySnapshot(epoch: 4, version: 50) == 0)
        #expect(t.snapshotsApplied == 0 && t.epoch == 5 && t.highest == 2)
    }

    @Test func newEpochIsNotALoss() {
        var t = VersionTracker()
        Self.feed(&t, epoch: 1, Array(1...50))
        #expect(t.observe(epoch: 2, version: 1) == .newEpoch(previous: 1))
        #expect(t.observe(epoch: 2, version: 2) == .inOrder)
        #expect(t.epochChanges == 1 && t.epoch == 2 && t.highest == 2 && t.firstInEpoch == 1)
        #expect(t.lost == 0 && t.gaps == 0)
        // A restarted writer that continues the version line.
        #expect(t.observe(epoch: 3, version: 51) == .newEpoch(previous: 2))
        #expect(t.epochChanges == 2 && t.lost == 0)
    }

    @Test func snapshotOfANewEpochIsAnEpochChange() {
        var t = VersionTracker()
        Self.feed(&t, epoch: 1, [1, 2])
        #expect(t.applySnapshot(epoch: 2, version: 40) == 0)
        #expect(t.epochChanges == 1 && t.epoch == 2 && t.highest == 40 && t.lost == 0)
        #expect(t.observe(epoch: 2, version: 40) == .stale)
    }

    @Test func oldEpochIsDiscarded() {
        var t = VersionTracker()
        Self.feed(&t, epoch: 7, [1, 2, 3])
        #expect(t.observe(epoch: 6, version: 4) == .oldEpoch)
        #expect(t.observe(epoch: 6, version: 100) == .oldEpoch)
        #expect(t.oldEpochDiscarded == 2 && t.received == 5 && t.applied == 3)
        #expect(t.epoch == 7 && t.highest == 3 && t.lost == 0)
    }

    @Test func newEpochForgetsTheOldSnapshotFloor() {
        // A snapshot at 100 in epoch 1 must not make epoch 2's early versions stale.
        var t = VersionTracker()
        Self.feed(&t, epoch: 1, [1])
        t.applySnapshot(epoch: 1, version: 100)
        #expect(Self.feed(&t, epoch: 2, [1, 2, 2, 1, 3]) == [.newEpoch(previous: 1), .inOrder, .duplicate, .outOfOrder, .inOrder])
        #expect(t.stale == 0 && t.duplicates == 1 && t.outOfOrder == 1)
    }

    @Test func tailLossIsCountedAgainstTheFinalVersion() {
        var t = VersionTracker()
        Self.feed(&t, [1, 2, 3, 5])
        t.finish(finalEpoch: 1, finalVersion: 9)
        #expect(t.tailLost == 4 && t.lostInGaps == 1 && t.lost == 5)
        #expect(t.counters["lost_tail"] == 4 && t.counters["lost"] == 5)
    }

    @Test(arguments: [(1, 5), (1, 3), (2, 100), (0, 100)] as [(UInt64, UInt64)])
    func noTailLossWhenTheFinalVersionIsHeldOrOfAnotherEpoch(finalEpoch: UInt64, finalVersion: UInt64) {
        var t = VersionTracker()
        Self.feed(&t, Array(1...5))
        t.finish(finalEpoch: finalEpoch, finalVersion: finalVersion)
        #expect(t.tailLost == 0 && t.lost == 0)
    }

    @Test func conflateCountsGapsAndTailAsSkipped() {
        var t = VersionTracker(gapsAreSkips: true)
        let outcomes = Self.feed(&t, [1, 5, 6, 20])
        #expect(outcomes == [.first, .gap(missing: 2...4), .inOrder, .gap(missing: 7...19)])
        #expect(t.skipped == 3 + 13)
        #expect(t.gaps == 0 && t.lostInGaps == 0 && t.lost == 0)
        t.finish(finalEpoch: 1, finalVersion: 25)
        #expect(t.skipped == 16 + 5 && t.tailLost == 0 && t.lost == 0)
    }

    @Test func countersHaveTheMetricsJSONNames() {
        var t = VersionTracker()
        Self.feed(&t, [1, 1, 3])
        t.finish(finalEpoch: 1, finalVersion: 4)
        #expect(Set(t.counters.keys) == [
            "received", "applied", "gaps", "lost_in_gaps", "lost_tail", "lost_at_epoch_start", "lost", "skipped", "duplicates",
            "out_of_order", "stale_discarded", "epoch_changes", "old_epoch_discarded", "snapshots_applied",
            "covered_by_snapshot", "coalesced", "implausible_discarded",
        ])
        #expect(t.counters["received"] == 3 && t.counters["applied"] == 2 && t.counters["duplicates"] == 1)
        #expect(t.counters["gaps"] == 1 && t.counters["lost_in_gaps"] == 1 && t.counters["lost_tail"] == 1)
        #expect(t.counters["lost"] == 2)
    }

    /// Versions before the first one delivered are not counted as lost: the
    /// tracker starts counting at the first version it sees (a late joiner's
    /// start is covered by its snapshot, not by the stream).
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomSubsetLosesExactlyTheMissingAfterTheFirstDelivered(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let n: UInt64 = 5_000
        let keepPerMille = 50 + random.below(950)
        let delivered = (1...n).filter { _ in random.below(1_000) < keepPerMille }
        guard let first = delivered.first else { return }
        var t = VersionTracker()
        Self.feed(&t, delivered)
        t.finish(finalEpoch: 1, finalVersion: n)
        let count = UInt64(delivered.count)
        #expect(t.lost == n - count - (first - 1))
        #expect(t.received == count && t.applied == count)
        #expect(t.firstInEpoch == first)
        #expect(t.tailLost == n - delivered.last!)
    }
}

@Suite("VersionTracker: forged frames")
struct VersionTrackerForgedFrameTests {
    @Test("a version of 2^64−1 and then any other version: discarded, counted, nothing traps")
    func maximalVersion() {
        var t = VersionTracker()
        VersionTrackerTests.feed(&t, Array(1...10))
        #expect(t.observe(epoch: 1, version: .max) == .implausible)
        #expect(t.observe(epoch: 1, version: 11) == .inOrder)
        #expect(t.observe(epoch: 1, version: .max - 1) == .implausible)
        #expect(t.observe(epoch: 1, version: 12) == .inOrder)
        #expect(t.highest == 12 && t.lost == 0 && t.implausibleDiscarded == 2 && t.counters["implausible_discarded"] == 2)
    }

    @Test("the first plausible version past 2^53 is refused, the last below it accepted")
    func plausibleBoundary() {
        var t = VersionTracker()
        #expect(t.observe(epoch: 1, version: VersionTracker.plausibleLimit) == .implausible)
        #expect(t.observe(epoch: 1, version: VersionTracker.plausibleLimit - 1) == .first)
        #expect(t.observe(epoch: 1, version: 1) == .outOfOrder)
    }

    @Test("an epoch past the limit does not fence the real writer's frames")
    func futureEpoch() {
        var t = VersionTracker()
        t.epochLimit = 2_000_000
        VersionTrackerTests.feed(&t, epoch: 1_000_000, Array(1...5))
        #expect(t.observe(epoch: .max, version: 6) == .implausible)
        #expect(t.observe(epoch: 2_000_001, version: 6) == .implausible)
        #expect(t.observe(epoch: 1_000_000, version: 6) == .inOrder)
        #expect(t.epoch == 1_000_000 && t.oldEpochDiscarded == 0 && t.implausibleDiscarded == 2)
        // A snapshot reply claiming such an epoch is not applied either.
        #expect(t.applySnapshot(epoch: 2_000_001, version: 100) == 0 && t.epoch == 1_000_000)
    }

    @Test("huge gaps across epochs saturate the counts instead of trapping")
    func saturatingCounts() {
        var t = VersionTracker()
        let big = VersionTracker.plausibleLimit - 1
        for e in UInt64(1)...3000 {
            #expect(t.observe(epoch: e, version: 1) != .implausible)
            _ = t.observe(epoch: e, version: big)
        }
        #expect(t.lost == .max && t.gaps == 3000)
        // A final version at the limit is not believed.
        t.finish(finalEpoch: 3000, finalVersion: .max)
        #expect(t.counters["lost_tail"] == 0)
    }
}
