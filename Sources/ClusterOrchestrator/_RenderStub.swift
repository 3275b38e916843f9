// TEMPORARY until the Render branch is merged.
public enum ReportRenderer {
    public static func summaryText(_ r: RunReport) -> String {
        var s = "run \(r.name)\n"
        for n in r.nodes { s += "\(n.name) \(n.role) \(n.status) recv=\(n.received) lost=\(n.lost) p50=\(n.latency.p50Us) p99=\(n.latency.p99Us) max=\(n.latency.maxUs)\n" }
        for x in r.slo { s += "\(x.name) \(x.measured) <= \(x.limit) \(x.pass ? "PASS" : "FAIL")\n" }
        return s
    }
    public static func html(_ r: RunReport) -> String { "<!DOCTYPE html><html></html>" }
}
