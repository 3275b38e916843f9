import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

@Suite("netns launcher: checks, addresses and fault commands")
struct NetnsUnitTests {
    let tools: (String) -> String? = { "/usr/sbin/" + $0 }

    @Test func refusedWithoutRoot() throws {
        let why = try #require(NetnsPreflight.problem(euid: 1000, locate: tools))
        #expect(why.contains("launcher \"netns\" needs root"))
        #expect(why.contains("network namespaces") && why.contains("--launcher local"))
        #expect(NetnsPreflight.problem(euid: 0, locate: tools) == nil)
    }

    @Test func missingToolsAndIpcAreNamed() throws {
        let missing = try #require(NetnsPreflight.problem(euid: 0, locate: { $0 == "ip" ? "/usr/sbin/ip" : nil }))
        #expect(missing.contains("needs iptables, tc") && missing.contains("iproute2"))
        let ipc = try #require(NetnsPreflight.problem(euid: 0, transport: .ipc, locate: tools))
        #expect(ipc.contains("writer.transport \"tcp\""))
    }

    @Test func subnetsStayInTheBenchmarkingRangeAndSkipTakenOnes() throws {
        #expect(NetnsNetwork.subnet(owner: 5, inUse: "") == "198.18.5.")
        #expect(NetnsNetwork.subnet(owner: 300, inUse: "") == "198.19.44.")
        #expect(NetnsNetwork.subnet(owner: 5, inUse: "3: csb9 inet 198.18.5.1/24 brd") == "198.18.6.")
        #expect(NetnsNetwork.subnet(owner: 511, inUse: "inet 198.19.255.1/24") == "198.18.0.")
    }

    @Test func namesFitInterfaceNames() {
        let n = NetnsNetwork(owner: 4_194_303)
        #expect(n.bridge == "csb4194303")
        #expect("\(NetnsNetwork.vethPrefix)4194303-999".count <= 15)
    }

    @Test func faultCommandsAndTheirHeals() throws {
        let me = NetnsNetwork.Host(label: "cut", namespace: "csn1-3", veth: "csv1-3", address: "198.18.1.4")
        let writer = NetnsNetwork.Host(label: "writer", namespace: "csn1-1", veth: "csv1-1", address: "198.18.1.2")
        let p = try #require(NetnsNetwork.commands(for: .partition, host: me, peers: [writer], loss: nil, bandwidth: nil, isWriter: false))
        #expect(p.apply == [["ip", "netns", "exec", "csn1-3", "iptables", "-I", "INPUT", "-s", "198.18.1.2", "-j", "DROP"],
                            ["ip", "netns", "exec", "csn1-3", "iptables", "-I", "OUTPUT", "-d", "198.18.1.2", "-j", "DROP"]])
        #expect(p.heal.map { $0.map { $0 == "-D" ? "-I" : $0 } } == p.apply)
        let l = try #require(NetnsNetwork.commands(for: .loss, host: me, peers: [writer], loss: 0.1, bandwidth: nil, isWriter: false))
        #expect(l.apply.first?.contains("statistic") == true && l.apply.first?.contains("0.1000") == true)
        let b = try #require(NetnsNetwork.commands(for: .bandwidth, host: me, peers: [], loss: nil, bandwidth: "1mbit", isWriter: false))
        #expect(b.apply == [["tc", "qdisc", "add", "dev", "csv1-3", "root", "tbf", "rate", "1mbit", "burst", "4096", "latency", "400ms"]])
        #expect(b.heal == [["tc", "qdisc", "del", "dev", "csv1-3", "root"]])
        let w = try #require(NetnsNetwork.commands(for: .bandwidth, host: writer, peers: [], loss: nil, bandwidth: "100mbit", isWriter: true))
        #expect(w.apply == [["tc", "-n", "csn1-1", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "100mbit", "burst", "125000", "latency", "400ms"]])
        #expect(NetnsNetwork.commands(for: .kill, host: me, peers: [], loss: nil, bandwidth: nil, isWriter: false) == nil)
    }
}
