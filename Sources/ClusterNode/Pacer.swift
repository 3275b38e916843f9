/// An open-loop schedule: tick n is due at `origin + n × interval`, however
/// late the loop wakes, so a late wake-up is caught up, never skipped.
///
/// The writer paces snapshots with it, the query load generator its
/// requests. It decides what is due; the caller does it.
struct Pacer {
    /// Nanoseconds between ticks; 0: never due.
    let interval: UInt64
    /// When tick 0 was due; nil until the schedule begins.
    private(set) var origin: UInt64?
    /// Ticks taken since the origin.
    private(set) var taken: UInt64 = 0
    /// Wake-ups that found more than one tick due.
    private(set) var lateWakeUps: UInt64 = 0

    /// - Parameter interval: nanoseconds between ticks; 0: never due.
    init(interval: UInt64) {
        self.interval = interval
    }

    /// Starts the schedule at `mono`, from tick 0.
    mutating func begin(at mono: UInt64) {
        origin = mono
        taken = 0
    }

    /// When the next tick is due; nil before the schedule begins or when it never ticks.
    var nextDue: UInt64? {
        guard let origin, interval > 0 else { return nil }
        return origin + taken * interval
    }

    /// Takes the ticks due by `now`.
    /// - Parameters:
    ///   - now: monotonic ns, not before the origin.
    ///   - budget: the most taken at once, so a loop far behind stays responsive.
    /// - Returns: how many to do now, and whether more than one was due (a
    ///   late wake-up, counted in ``lateWakeUps``).
    mutating func takeDue(now: UInt64, budget: UInt64 = 1_000) -> (count: UInt64, late: Bool) {
        guard let origin, interval > 0 else { return (0, false) }
        let due = (now - origin) / interval + 1
        let late = due > taken + 1
        if late { lateWakeUps += 1 }
        let count = due > taken ? min(due - taken, budget) : 0
        taken += count
        return (count, late)
    }
}
