import ClusterCore
import Foundation

extension NetnsNetwork {
    /// The commands that apply a network fault to `host` and the ones that heal it.
    /// - Parameters:
    ///   - peers: the hosts it exchanges data with (its upstream; for the writer, every other host).
    ///     The bridge, where the control plane is, is never one: the run stays observable.
    public static func commands(for action: FaultAction, host: Host, peers: [Host], loss: Double?, bandwidth: String?,
                                isWriter: Bool) -> (apply: [[String]], heal: [[String]])? {
        let inNamespace = ["ip", "netns", "exec", host.namespace, "iptables"]
        switch action {
        case .partition:
            let rules = peers.flatMap { p in [["INPUT", "-s", p.address, "-j", "DROP"], ["OUTPUT", "-d", p.address, "-j", "DROP"]] }
            return (rules.map { inNamespace + ["-I"] + $0 }, rules.map { inNamespace + ["-D"] + $0 })
        case .loss:
            let p = String(format: "%.4f", loss ?? 0)
            let rules = peers.map { ["INPUT", "-s", $0.address, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"] }
            return (rules.map { inNamespace + ["-I"] + $0 }, rules.map { inNamespace + ["-D"] + $0 })
        case .bandwidth:
            guard let bandwidth, let bits = FaultSpec.bitsPerSecond(ofRate: bandwidth) else { return nil }
            // tbf's bucket must hold at least a packet and what arrives in a timer tick (~10 ms).
            let burstBytes = max(Int(bits / 8 / 100), 4_096)
            let tbf = ["root", "tbf", "rate", bandwidth, "burst", "\(burstBytes)", "latency", "400ms"]
            // Traffic into a namespace leaves the bridge by its host-side veth; the writer's
            // is what it sends, so its limit sits on its own eth0.
            let dev = isWriter ? ["tc", "-n", host.namespace, "qdisc"] : ["tc", "qdisc"]
            let name = isWriter ? "eth0" : host.veth
            return ([dev + ["add", "dev", name] + tbf], [dev + ["del", "dev", name, "root"]])
        default:
            return nil
        }
    }
}
