import ClusterCore
import Foundation

/// A fault due at a time of the measured phase.
struct PlannedFault: Sendable {
    /// When, nanoseconds after the measured phase began.
    var atNanos: UInt64
    var action: FaultAction
    /// Node names (or, for a network fault's heal, the target as it was recorded).
    var targets: [String]
    /// How long it lasts: a pause's resume, or a network fault's heal, is due this long after it.
    var duration: UInt64?
    var detail: String
    /// Where it came from: `faults[i]`, or `chaos`.
    var source: String
    /// The topology's fault (its `loss`, `bandwidth`, `delay`); nil for chaos and heals.
    var spec: FaultSpec? = nil
    /// A network fault's heal: the commands that undo what was applied.
    var heal: [[String]]?
    /// A network fault's heal through a fault agent: the id of the request whose effect it undoes.
    var healsRequest: UInt64?

    /// Whether it undoes an earlier network fault.
    var isHeal: Bool { heal != nil || healsRequest != nil }
}

/// Turns a topology's fault schedule and chaos block into one timed list.
enum FaultPlanner {
    /// The faults of `t` in time order: the `faults` list, and the chaos
    /// block's random kills, terminations and pauses (seeded, so a run can be repeated).
    static func plan(_ t: Topology) -> [PlannedFault] {
        var out: [PlannedFault] = []
        for (i, f) in t.faults.enumerated() {
            var targets = t.nodes(matching: f.target).map(\.name)
            if targets.isEmpty { targets = [f.target] }
            var detail = ""
            if let l = f.loss { detail = "loss \(l)" }
            if let b = f.bandwidth { detail = "bandwidth \(b)" }
            if let d = f.delay { detail = "delay \(d)" }
            out.append(PlannedFault(atNanos: f.at.nanoseconds, action: f.action, targets: targets,
                                    duration: f.for?.nanoseconds, detail: detail, source: "faults[\(i)]",
                                    spec: f))
        }
        if let c = t.chaos { out += chaos(c, in: t) }
        return out.sorted { $0.atNanos < $1.atNanos }
    }

    /// The chaos block's faults: exponential gaps at `rate` per minute between `start` and `stop`.
    static func chaos(_ c: ChaosSpec, in t: Topology) -> [PlannedFault] {
        var out: [PlannedFault] = []
        var rng = SeededRandom(seed: c.seed ?? (t.seed ^ 0x9E37_79B9_7F4A_7C15))
        let start = c.start?.nanoseconds ?? 0
        let stop = min(c.stop?.nanoseconds ?? t.duration.nanoseconds, t.duration.nanoseconds)
        let candidates = Array(Set(c.targets.flatMap { t.nodes(matching: $0).map(\.name) })).sorted()
        let meanGap = 60e9 / c.rate
        var at = Double(start)
        while !candidates.isEmpty {
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            at += -log(max(1 - u, 1e-12)) * meanGap
            guard at < Double(stop) else { break }
            let action = c.actions[Int(rng.below(UInt64(c.actions.count)))]
            let target = candidates[Int(rng.below(UInt64(candidates.count)))]
            let when = UInt64(at)
            switch action {
            case .kill, .terminate:
                out.append(PlannedFault(atNanos: when, action: action, targets: [target], duration: nil, detail: "", source: "chaos"))
                out.append(PlannedFault(atNanos: when + c.pauseFor.nanoseconds, action: .restart, targets: [target],
                                        duration: nil, detail: "chaos recovery", source: "chaos"))
            default:
                out.append(PlannedFault(atNanos: when, action: action, targets: [target], duration: c.pauseFor.nanoseconds,
                                        detail: "", source: "chaos"))
            }
        }
        return out
    }
}
