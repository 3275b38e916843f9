import ClusterCore

/// The faults still to come, in time order, and the record of those applied.
///
/// The run loop takes each fault when it is due and applies it (process
/// faults through ``ProcessFaults``, network faults through
/// ``NetworkFaults``); what that gives per target becomes a ``FaultRecord``
/// here, and a fault's follow-up (a pause's resume, a network fault's heal)
/// joins the queue.
struct FaultScheduler: Sendable {
    private var pending: [PlannedFault]
    /// Every fault applied, skipped or failed so far, per target, in the order they happened.
    private(set) var records: [FaultRecord] = []

    init(_ plan: [PlannedFault]) {
        pending = plan
    }

    /// Takes the next fault if it is due at `t` (nanoseconds into the measured phase).
    mutating func nextDue(at t: UInt64) -> PlannedFault? {
        guard let f = pending.first, f.atNanos <= t else { return nil }
        pending.removeFirst()
        return f
    }

    /// Adds a fault to the queue, in time order.
    mutating func schedule(_ f: PlannedFault) {
        pending.append(f)
        pending.sort { $0.atNanos < $1.atNanos }
    }

    /// Records what applying `f` to one target gave, and queues its follow-up.
    /// - Parameter at: when it was applied, seconds into the measured phase.
    mutating func record(_ f: PlannedFault, _ result: FaultResult, at: Double) -> FaultRecord {
        if let followUp = result.followUp { schedule(followUp) }
        let step: FaultStep = f.isHeal ? .heal : .fault(f.action)
        let record = FaultRecord(plannedAtSeconds: Double(f.atNanos) / 1e9, appliedAtSeconds: result.outcome == .applied ? at : nil,
                                 action: step, target: result.target, detail: result.detail, outcome: result.outcome, source: f.source)
        records.append(record)
        return record
    }
}

/// What applying a fault to one target (a node, or a namespace's nodes) gave.
struct FaultResult: Sendable {
    var target: String
    var outcome: FaultOutcome
    var detail: String
    /// A fault it brings with it: a pause's resume, a network fault's heal.
    var followUp: PlannedFault?

    init(_ target: String, _ outcome: FaultOutcome, _ detail: String, followUp: PlannedFault? = nil) {
        self.target = target
        self.outcome = outcome
        self.detail = detail
        self.followUp = followUp
    }
}
