import ClusterProcess
import ClusterTestSupport
import Foundation
import Testing

@Suite("nice values", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct NicenessTests {
    /// The nice value and scheduling of every thread of a process, by thread name (libzmq's are `ZMQbg/…`).
    static func threads(of pid: Int32) -> [(name: String, nice: Int, batch: Bool)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { entry in
            guard let tid = Int32(entry), let nice = Niceness.of(thread: tid), let batch = BatchScheduling.isEnabled(thread: tid),
                  let comm = try? String(contentsOfFile: "/proc/\(pid)/task/\(entry)/comm", encoding: .utf8) else { return nil }
            return (comm.trimmingCharacters(in: .whitespacesAndNewlines), nice, batch)
        }
    }

    /// A node's name from its command line (`--name X`), nil for other processes.
    static func nodeName(of pid: Int32) -> String? {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let args = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard args.first?.hasSuffix("cluster-node") == true, let i = args.firstIndex(of: "--name"), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    @Test("the topology's nice values and scheduling reach every thread of each node, libzmq's included; a group without them keeps the orchestrator's")
    func topologyNiceReachesEveryThread() async throws {
        let tag = "nice"
        let json = """
        {"name": "nice", "duration": "8s", "warmup": "500ms",
         "writer": {"rate": 200, "nice": 3},
         "readers": [{"role": "cli", "count": 2, "nice": 7, "scheduling": "batch"}, {"role": "cli", "name": "plain"}]}
        """
        let run = try Harness.startTopology(json, tag: tag)
        let orchestrator = run.process.processIdentifier
        // Read back once every node runs with libzmq's I/O thread started (the values are set
        // before it starts), polling off the cooperative pool, within the run's 8 s.
        let (seen, orchestratorNice) = try await offPool { () -> ([String: [(name: String, nice: Int, batch: Bool)]], Int?) in
            let deadline = Date().addingTimeInterval(30)
            var seen: [String: [(name: String, nice: Int, batch: Bool)]] = [:]
            while Date() < deadline {
                seen = [:]
                for pid in Harness.processes(tagged: tag) {
                    if let name = Self.nodeName(of: pid) { seen[name] = Self.threads(of: pid) }
                }
                let started = seen.count == 4 && seen.values.allSatisfy { $0.contains { $0.name.hasPrefix("ZMQbg/IO") } }
                if started { return (seen, Niceness.of(thread: orchestrator)) }
                usleep(50_000)
            }
            return (seen, nil)
        }
        let result = try await offPool { Harness.wait(run.process, run.out, run.err, timeout: 60) }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Set(seen.keys) == ["writer", "cli-1", "cli-2", "plain"])
        for (node, expected) in [("writer", 3), ("cli-1", 7), ("cli-2", 7), ("plain", try #require(orchestratorNice))] {
            let threads = seen[node] ?? []
            #expect(threads.contains { $0.name.hasPrefix("ZMQbg/IO") }, "\(node): no libzmq I/O thread among \(threads.map(\.name))")
            for t in threads {
                #expect(t.nice == expected, "\(node), thread \(t.name): nice \(t.nice), expected \(expected)")
                #expect(t.batch == node.hasPrefix("cli-"), "\(node), thread \(t.name): SCHED_BATCH \(t.batch)")
            }
        }
        #expect(Harness.processes(tagged: tag).isEmpty)
        // Each node's metrics say what it ran at.
        let runs = try FileManager.default.contentsOfDirectory(atPath: run.runs)
        let dir = run.runs + "/" + (try #require(runs.first)) + "/nodes/"
        for (node, expected, batch) in [("writer", 3, 0.0), ("cli-1", 7, 1), ("plain", orchestratorNice ?? 0, 0)] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + node + "/metrics.json"))
            let gauges = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["gauges"] as? [String: Double]
            #expect(gauges?["nice"] == Double(expected), "\(node): \(String(describing: gauges))")
            #expect(gauges?["scheduling_batch"] == batch, "\(node): \(String(describing: gauges))")
        }
    }

    @Test("a nice value out of range is refused before the node starts")
    func outOfRange() async throws {
        let r = try await Harness.run(Harness.clusterNode, ["reader", "--name", "cli-1", "--pub", "tcp://127.0.0.1:1", "--snapshots", "tcp://127.0.0.1:1",
                                                            "--nice=-21"], timeout: 10)
        #expect(r.status != 0)
        #expect(r.stderr.contains("--nice -21: expected -20...19"), "\(r.stderr)")
    }
}
