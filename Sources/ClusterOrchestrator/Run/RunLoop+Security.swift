import ClusterCore
import ZeroMQ

/// What the control plane's CURVE handler sees, as the run goes and at its end.
extension RunLoop {
    /// Each kind of refusal first seen since the last turn: in events.jsonl
    /// and above the progress line (public keys only: they are not secret).
    func noteRefusals() {
        guard let security = control.security else { return }
        for r in security.takeNew() {
            events.log("curve-refused", detail: ["outcome": r.outcome.rawValue, "socket": r.socket, "address": r.address,
                                                 "key": r.publicKey, "reason": r.reason])
            progress.note("control plane: \(r.outcome.rawValue)\(r.publicKey.isEmpty ? "" : " key \(r.publicKey)")"
                          + "\(r.address.isEmpty ? "" : " from \(r.address)") (\(r.reason))")
        }
    }

    /// The control plane's counts and records, for run-state.json; nil without CURVE.
    var securityState: SecurityState? {
        guard let security = control.security else { return nil }
        let counts = security.counts
        return SecurityState(
            mode: SecurityMode.curve.rawValue, admitted: counts.admitted,
            refusals: security.records.map {
                ConnectionRefusal(outcome: $0.outcome.rawValue, socket: $0.socket, address: $0.address, key: $0.publicKey,
                                  reason: $0.reason, count: $0.count)
            },
            unrecorded: counts.unrecorded)
    }
}
