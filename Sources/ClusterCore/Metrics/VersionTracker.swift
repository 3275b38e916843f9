/// Loss accounting for one reader: what arrived, in which order, and what did not.
///
/// A value type with no I/O. The reader feeds it every update it receives and
/// every snapshot it fetches; the tracker classifies each and keeps the
/// counters the report is built from.
///
/// Words used throughout:
/// - **lost**: versions the reader never received as an update and that no
///   policy chose to skip (gaps in the stream, and the tail after the last
///   version received when the writer's final version is known).
/// - **skipped**: versions a policy deliberately let go (conflation, or a
///   snail that disconnected); counted apart from losses.
/// - **stale**: updates at or below the version of a fetched snapshot,
///   discarded as the Clone pattern requires.
public struct VersionTracker: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// The first update of an epoch (nothing to compare with).
        case first
        /// The next version.
        case inOrder
        /// Versions were missing before this one.
        case gap(missing: ClosedRange<UInt64>)
        /// The same version again.
        case duplicate
        /// Older than the highest seen (and not a duplicate of it).
        case outOfOrder
        /// At or below the fetched snapshot's version: discard.
        case stale
        /// The writer restarted: a new epoch began with this update.
        case newEpoch(previous: UInt64)
        /// From an epoch older than the current one (a fenced incarnation).
        case oldEpoch
        /// A version or epoch no writer can have produced (``plausibleLimit``,
        /// or an epoch past ``epochLimit``): discarded, so one forged frame
        /// cannot stop the reader or fence every real frame after it.
        case implausible
    }

    /// Versions and epochs are below 2^53: a writer at a million snapshots a
    /// second takes 285 years to get there, an epoch (the writer's start time
    /// in microseconds since 1970) until the year 2255, and below it every
    /// value is exact in the JSON of the dumps and reports, which many tools
    /// read as doubles.
    public static let plausibleLimit: UInt64 = 1 << 53

    /// The highest epoch accepted; the reader keeps it a day ahead of its own
    /// wall clock (an epoch is a start time: one far in the future is forged).
    public var epochLimit: UInt64 = plausibleLimit - 1
    public private(set) var implausibleDiscarded: UInt64 = 0

    @inlinable public var epoch: UInt64 { _epoch }
    @usableFromInline var _epoch: UInt64 = 0
    /// Highest version held in the current epoch (from updates or a snapshot).
    @inlinable public var highest: UInt64 { _highest }
    @usableFromInline var _highest: UInt64 = 0
    /// Lowest version of the current epoch this reader knows of.
    @inlinable public var firstInEpoch: UInt64 { _firstInEpoch }
    @usableFromInline var _firstInEpoch: UInt64 = 0
    /// Whether a gap counts as skipped (conflate) instead of lost.
    public var gapsAreSkips: Bool

    @inlinable public var received: UInt64 { _received }
    @usableFromInline var _received: UInt64 = 0
    @inlinable public var applied: UInt64 { _applied }
    @usableFromInline var _applied: UInt64 = 0
    public private(set) var gaps: UInt64 = 0
    public private(set) var lostInGaps: UInt64 = 0
    public private(set) var skipped: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    public private(set) var outOfOrder: UInt64 = 0
    public private(set) var stale: UInt64 = 0
    public private(set) var epochChanges: UInt64 = 0
    public private(set) var oldEpochDiscarded: UInt64 = 0
    public private(set) var snapshotsApplied: UInt64 = 0
    /// Versions covered by a fetched snapshot instead of updates.
    public private(set) var coveredBySnapshot: UInt64 = 0
    public private(set) var tailLost: UInt64 = 0

    public init(gapsAreSkips: Bool = false) {
        self.gapsAreSkips = gapsAreSkips
    }

    /// Versions of a writer's new incarnation published before the first
    /// this reader held in its epoch (it was reconnecting): known once a
    /// heartbeat or end-of-stream frame of the epoch says where it began.
    public private(set) var lostAtEpochStart: UInt64 = 0
    /// Whether the current epoch's start is accounted for: false from an
    /// epoch change by an update until the writer said where the epoch began.
    private var epochStartOpen = false

    /// Losses so far: gaps, the starts of epochs and the tail once known.
    public var lost: UInt64 {
        var sum = lostInGaps
        sum.addSaturating(lostAtEpochStart)
        sum.addSaturating(tailLost)
        return sum
    }

    /// Versions the writer folded into the frames it sent (`coalesced`), counted in `skipped` too.
    public private(set) var coalesced: UInt64 = 0

    /// Classifies one received update and updates the counters.
    /// - Parameter coalesced: versions the writer folded into this frame before
    ///   `v` (Envelope `coalesced`): a jump over them is the writer's choice,
    ///   skipped, not lost.
    @inlinable @inline(__always)
    public mutating func observe(epoch e: UInt64, version v: UInt64, coalesced folded: UInt64 = 0) -> Outcome {
        // The usual case, the next version of the epoch, is inlined into the
        // caller; everything else is decided out of line.
        if e == _epoch, _highest != 0, v == _highest &+ 1, v != _firstInEpoch {
            _received &+= 1
            _highest = v
            _applied &+= 1
            return .inOrder
        }
        return observeOther(epoch: e, version: v, coalesced: folded)
    }

    @usableFromInline @inline(never)
    mutating func observeOther(epoch e: UInt64, version v: UInt64, coalesced folded: UInt64) -> Outcome {
        _received += 1
        if v >= Self.plausibleLimit || e >= Self.plausibleLimit || e > epochLimit {
            implausibleDiscarded += 1
            return .implausible
        }
        if e < epoch {
            oldEpochDiscarded += 1
            return .oldEpoch
        }
        if e > epoch {
            let previous = epoch
            let isFirstEver = epoch == 0
            _epoch = e
            _highest = v
            _firstInEpoch = v
            snapshotFloor = 0  // a snapshot of the old epoch says nothing about this one
            _applied += 1
            if isFirstEver { return .first }
            epochChanges += 1
            epochStartOpen = true
            return .newEpoch(previous: previous)
        }
        if v == highest + 1 || highest == 0 {
            if highest == 0 { _firstInEpoch = v }
            _highest = v
            _applied += 1
            return highest == firstInEpoch ? .first : .inOrder
        }
        if v > highest {
            // The versions just below v that the writer folded in were never sent.
            let jump = v - highest - 1
            let byWriter = min(jump, folded)
            coalesced.addSaturating(byWriter)
            skipped.addSaturating(byWriter)
            let n = jump - byWriter
            _highest = v
            _applied += 1
            guard n > 0 else { return .inOrder }
            let missing = (v - byWriter - n)...(v - byWriter - 1)
            if gapsAreSkips { skipped.addSaturating(n) } else { gaps += 1; lostInGaps.addSaturating(n) }
            return .gap(missing: missing)
        }
        if v <= snapshotFloor {
            stale += 1
            return .stale
        }
        if v == highest {
            duplicates += 1
            return .duplicate
        }
        outOfOrder += 1
        return .outOfOrder
    }

    private var snapshotFloor: UInt64 = 0

    /// Applies a fetched snapshot (Clone pattern): updates at or below its
    /// version are discarded from now on.
    /// - Parameter skipping: whether versions jumped over are a policy's choice
    ///   (snail, late join) rather than a loss already counted as a gap.
    /// - Returns: how many versions the snapshot moved this reader forward.
    @discardableResult
    public mutating func applySnapshot(epoch e: UInt64, version v: UInt64, skipping: Bool = true) -> UInt64 {
        guard e >= epoch, v < Self.plausibleLimit, e < Self.plausibleLimit, e <= epochLimit else { return 0 }
        snapshotsApplied += 1
        if e > epoch {
            if epoch != 0 { epochChanges += 1 }
            _epoch = e
            _highest = v
            _firstInEpoch = v
            snapshotFloor = v
            epochStartOpen = false  // the snapshot holds the epoch's state from its start
            return 0
        }
        snapshotFloor = max(snapshotFloor, v)
        guard v > highest else { return 0 }
        let jumped = highest == 0 ? 0 : v - highest
        if highest == 0 { _firstInEpoch = v }
        coveredBySnapshot.addSaturating(jumped)
        if skipping { skipped.addSaturating(jumped) }
        _highest = v
        return jumped
    }

    /// The writer said (in a heartbeat or end-of-stream frame) that epoch `e`
    /// began at version `first`. When this reader entered `e` by an update,
    /// as the writer restarted, the versions before the first it held were
    /// published while it reconnected: lost (skipped under a policy whose
    /// gaps are skips). A reader's first epoch, and one entered by a
    /// snapshot, owe nothing: counting starts where they joined.
    public mutating func epochStarted(epoch e: UInt64, firstVersion first: UInt64) {
        guard epochStartOpen, e == epoch, first > 0 else { return }
        epochStartOpen = false
        guard first < _firstInEpoch else { return }
        let n = _firstInEpoch - first
        if gapsAreSkips { skipped.addSaturating(n) } else { lostAtEpochStart.addSaturating(n) }
    }

    /// Records the writer's final version: what came after the last version
    /// held is the tail this reader lost.
    public mutating func finish(finalEpoch: UInt64, finalVersion: UInt64) {
        guard finalEpoch == epoch, finalVersion > highest, finalVersion < Self.plausibleLimit else { tailLost = 0; return }
        let n = finalVersion - highest
        if gapsAreSkips { skipped.addSaturating(n); tailLost = 0 } else { tailLost = n }
    }

    /// The counters, named as in metrics.json.
    public var counters: [String: UInt64] {
        var c: [String: UInt64] = [:]
        c[.received] = received
        c[.applied] = applied
        c[.gaps] = gaps
        c[.lostInGaps] = lostInGaps
        c[.lostTail] = tailLost
        c[.lostAtEpochStart] = lostAtEpochStart
        c[.lost] = lost
        c[.skipped] = skipped
        c[.duplicates] = duplicates
        c[.outOfOrder] = outOfOrder
        c[.staleDiscarded] = stale
        c[.epochChanges] = epochChanges
        c[.oldEpochDiscarded] = oldEpochDiscarded
        c[.snapshotsApplied] = snapshotsApplied
        c[.coveredBySnapshot] = coveredBySnapshot
        c[.coalesced] = coalesced
        c[.implausibleDiscarded] = implausibleDiscarded
        return c
    }
}

extension UInt64 {
    /// Adds `n`, stopping at `.max` instead of trapping: counts fed by
    /// frames from the network must survive any frame.
    @usableFromInline
    mutating func addSaturating(_ n: UInt64) {
        let (sum, overflow) = addingReportingOverflow(n)
        self = overflow ? .max : sum
    }
}
