import ClusterCore
import Foundation

/// What the control plane's CURVE handler saw during a run, saved in
/// `run-state.json` so the report can be built again from the directory.
public struct SecurityState: Sendable, Codable, Hashable {
    /// `curve`.
    public var mode: String
    /// Nodes admitted to the control plane (connections).
    public var admitted: UInt64
    public var refusals: [ConnectionRefusal]
    /// Refusals past the distinct records kept: counted, not described.
    public var unrecorded: UInt64

    public init(mode: String, admitted: UInt64, refusals: [ConnectionRefusal], unrecorded: UInt64) {
        self.mode = mode
        self.admitted = admitted
        self.refusals = refusals
        self.unrecorded = unrecorded
    }
}

/// The report's `security`: the mode, and every connection a CURVE socket
/// of the run did not let through, where and whose (docs/security.md).
public struct SecurityReport: Sendable, Codable, Hashable {
    public var mode: String
    /// Connections admitted, over every node's CURVE servers and the control plane.
    public var admitted: UInt64
    /// Keys refused, over every node and the control plane (connections).
    public var keysRefused: UInt64
    /// Handshakes that failed before a key was offered (connections).
    public var handshakesFailed: UInt64
    /// Connections of the run's own nodes that a server refused.
    public var refusedByServer: UInt64
    /// Each kind of refusal, with the node (or `orchestrator`) where it happened.
    public var refusals: [ConnectionRefusal]

    /// Every refusal, in total.
    public var total: UInt64 { keysRefused + handshakesFailed + refusedByServer }

    /// The report's section for a CURVE run: the control plane's state and the nodes' dumps.
    /// - Returns: nil for a run without CURVE.
    static func build(state: SecurityState?, metrics: [String: NodeMetrics], order: [String]) -> SecurityReport? {
        guard let state else { return nil }
        var report = SecurityReport(mode: state.mode, admitted: state.admitted, keysRefused: 0, handshakesFailed: 0,
                                    refusedByServer: 0, refusals: [])
        func add(_ node: String, _ r: ConnectionRefusal) {
            var r = r
            r.node = node
            report.refusals.append(r)
        }
        for r in state.refusals { add("orchestrator", r) }
        for name in order {
            guard let m = metrics[name] else { continue }
            for r in m.refusals ?? [] { add(name, r) }
            report.admitted += m[.curveAdmitted]
            report.keysRefused += m[.curveRefused]
            report.handshakesFailed += m[.handshakeFailed]
            report.refusedByServer += m[.refusedByServer]
        }
        // The control plane's counts come from its records (and what was past them).
        for r in state.refusals {
            switch r.outcome {
            case "key-refused": report.keysRefused += r.count
            case "handshake-failed": report.handshakesFailed += r.count
            default: report.refusedByServer += r.count
            }
        }
        report.keysRefused += state.unrecorded
        return report
    }

    /// A line per refusal, most frequent first, at most `limit` (for the summary).
    func lines(limit: Int) -> [String] {
        let sorted = refusals.sorted { $0.count > $1.count }
        var out = sorted.prefix(limit).map { r in
            let key = r.key.isEmpty ? "" : " key \(r.key)"
            let from = r.address.isEmpty ? "" : (r.outcome == "refused-by-server" ? " by \(r.address)" : " from \(r.address)")
            return "  \(r.node ?? "?") \(r.socket): \(r.outcome)\(key)\(from) ×\(r.count) (\(r.reason))"
        }
        if sorted.count > limit { out.append("  … \(sorted.count - limit) more in report.json (security.refusals)") }
        return out
    }
}
