import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

/// A topology file of its own for a test, in a directory of its own.
enum SweepFixtures {
    static let topology = """
        {
          "name": "sweep-test",
          "duration": "10s",
          "writer": { "rate": 1000 },
          "readers": [ { "role": "cli", "count": 3 }, { "role": "log", "name": "slow", "processingDelay": "1ms" } ],
          "faults": [ { "at": "1s", "action": "pause", "target": "cli-3", "for": "1s" } ],
          "slo": { "p99LatencyMs": 20, "maxLossFastReaders": 0 }
        }
        """

    static func directory(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "clustersim-sweep-\(tag)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Writes `text` as a topology file; returns its path.
    static func file(_ tag: String, _ text: String = topology) -> String {
        let path = directory(tag) + "/t.json"
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func options(_ file: String, _ vary: [String] = [], findMax: String? = nil) -> SweepOptions {
        var o = SweepOptions(topologyPath: file)
        o.vary = vary
        o.findMax = findMax
        return o
    }

    /// The lines of the error `make` throws, or nil when it does not throw.
    static func refusal(_ o: SweepOptions) -> [String]? {
        do {
            _ = try SweepPlan.make(o)
            return nil
        } catch {
            return error.lines
        }
    }
}

@Suite("sweep: --vary values and ranges")
struct SweepValueTests {
    func values(_ text: String) throws -> [String] {
        try SweepParameter.parse("writer.rate=" + text).values.map(\.description)
    }

    @Test("lists and ranges", arguments: [
        ("1000,2000,5000", ["1000", "2000", "5000"]),
        ("1000..16000*2", ["1000", "2000", "4000", "8000", "16000"]),
        ("1000..20000*2", ["1000", "2000", "4000", "8000", "16000"]),
        ("10..100+10", ["10", "20", "30", "40", "50", "60", "70", "80", "90", "100"]),
        ("10..15+2.5", ["10", "12.5", "15"]),
        ("0.5..2*2", ["0.5", "1", "2"]),
        ("1..10*1.5", ["1", "2", "3", "5", "8"]),
        ("1000,2000,1000", ["1000", "2000"]),
        ("500, 1000..4000*2", ["500", "1000", "2000", "4000"]),
        ("drop,conflate,resync", ["drop", "conflate", "resync"]),
        ("2s,500ms", ["2s", "500ms"]),
        ("\"10\",true", ["10", "true"]),
    ])
    func parses(_ text: String, _ expected: [String]) throws {
        #expect(try values(text) == expected)
    }

    @Test("the kinds of value")
    func kinds() throws {
        let p = try SweepParameter.parse("readers[0].count=\"10\",10,true,drop")
        #expect(p.path.description == "readers[0].count")
        #expect(p.values == [.string("10"), .number("10"), .bool(true), .string("drop")])
    }

    @Test("refusals say what was found and what was expected", arguments: [
        ("writer.rate", "--vary writer.rate: found no '=', expected PATH=VALUES, e.g. writer.rate=1000,2000 or readers[0].count=10..100+10"),
        ("writer.rate=", "--vary writer.rate=: no values after '=', expected a list such as 1000,2000 or a range such as 1000..16000*2"),
        ("writer.rate=1000,,2000", "--vary writer.rate=1000,,2000: value 2 of the list is empty, expected a value between the commas"),
        ("writer.rate=1000..500*2", "--vary writer.rate=1000..500*2: the range's end 500 is below its start 1000, expected END ≥ START"),
        ("writer.rate=1000..5000*1", "--vary writer.rate=1000..5000*1: the range's factor 1 is not above 1, expected a factor > 1 such as 2"),
        ("writer.rate=0..5000*2", "--vary writer.rate=0..5000*2: the range's start 0 is not above 0, expected START > 0 for a geometric range"),
        ("writer.rate=10..50+0", "--vary writer.rate=10..50+0: the range's step 0 is not above 0, expected a step > 0 such as 10"),
        ("writer.rate=10..50", "--vary writer.rate=10..50: \"10..50\" has no step, expected START..END*FACTOR (geometric) or START..END+STEP (arithmetic), e.g. 1000..16000*2 or 10..100+10"),
        ("writer.rate=a..50+1", "--vary writer.rate=a..50+1: the range's start \"a\" is not a number, expected START..END*FACTOR (geometric) or START..END+STEP (arithmetic), e.g. 1000..16000*2 or 10..100+10"),
        ("writer.rate=1..1000+1", "--vary writer.rate=1..1000+1: the range 1..1000+1 has more than 100 values, expected at most 100 (a larger step or factor)"),
        ("writer..rate=1", "--vary writer..rate=1: \"writer..rate\" is not a path in a topology: found '.' at character 8, expected a key (letters, digits and _, not starting with a digit); paths look like writer.rate or readers[0].count"),
        ("readers[one].count=1", "--vary readers[one].count=1: \"readers[one].count\" is not a path in a topology: found an index that is not a whole number in brackets at character 9, expected e.g. [0]; paths look like writer.rate or readers[0].count"),
    ])
    func refusals(_ option: String, _ message: String) {
        let e = #expect(throws: SweepError.self) { try SweepParameter.parse(option) }
        #expect(e?.lines == [message])
        #expect(e?.code == .badOption)
    }
}

@Suite("sweep: options checked against the topology before anything runs")
struct SweepPlanTests {
    @Test("a grid of two parameters: every combination, the first parameter fastest")
    func grid() throws {
        let file = SweepFixtures.file("grid")
        var o = SweepFixtures.options(file, ["writer.rate=1000,2000", "readers[0].count=3,4,5"])
        o.repeats = 2
        o.duration = "3s"
        let plan = try SweepPlan.make(o)
        let points = plan.gridPoints.map { $0.map { "\($0.path)=\($0.value)" }.joined(separator: " ") }
        #expect(points == ["writer.rate=1000 readers[0].count=3", "writer.rate=2000 readers[0].count=3",
                           "writer.rate=1000 readers[0].count=4", "writer.rate=2000 readers[0].count=4",
                           "writer.rate=1000 readers[0].count=5", "writer.rate=2000 readers[0].count=5"])
        #expect(plan.topology.duration.seconds == 3)
        guard case .grid(let repeats) = plan.mode else { Issue.record("not a grid"); return }
        #expect(repeats == 2)
        let (json, t) = try plan.variant(plan.gridPoints[5])
        #expect(t.writer.rate == 2000 && t.readers[0].count == 5 && t.duration.seconds == 3)
        #expect(String(decoding: json, as: UTF8.self).contains("\"duration\": \"3s\""))
    }

    @Test("invalid values are refused with validate's message, naming the --vary that causes it")
    func invalidValues() throws {
        let file = SweepFixtures.file("invalid")
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["writer.rate=1000,0,-5"])) == [
            "\(file): writer.rate: 0 is out of range, expected more than 0 and at most 1000000 snapshots per second (with --vary writer.rate=0)",
            "\(file): writer.rate: -5 is out of range, expected more than 0 and at most 1000000 snapshots per second (with --vary writer.rate=-5)",
        ])
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["readers[0].count=3,5000"])) == [
            "\(file): readers[0].count: 5000 is out of range, expected 1 ... 2000 (with --vary readers[0].count=5000)",
        ])
        // One problem caused by several values is listed once, with all of them.
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["writer.rat=1000,2000"])) == [
            "\(file): writer.rat: unknown key (did you mean \"rate\"?); expected one of rate, payloadBytes, transport, sndhwm, sndbuf, nodrop, heartbeat, historyLimit, persist, events, coalesce, promise, batch, ioThreads, publisher, nice, scheduling (with --vary writer.rat=1000,2000)",
        ])
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["readers[0].policy=drop,dorp"])) == [
            "\(file): readers[0].policy: \"dorp\" is not one of drop, conflate, resync, snail (with --vary readers[0].policy=dorp)",
        ])
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["readers[2].count=1"])) == [
            "\(file): readers[2]: index 2 is past the end of readers: it has 2 elements (readers[0] ... readers[1]) (with --vary readers[2].count=1)",
        ])
        // A count that leaves the fault's target without a node.
        let noTarget = try #require(SweepFixtures.refusal(SweepFixtures.options(file, ["readers[0].count=2,3"])))
        #expect(noTarget.count == 1)
        #expect(noTarget[0].hasPrefix("\(file): faults[0].target: found \"cli-3\", which names no node"))
        #expect(noTarget[0].hasSuffix("(with --vary readers[0].count=2)"))
    }

    @Test("a combination invalid only together is named as a combination")
    func combination() throws {
        let file = SweepFixtures.file("combination")
        let lines = try #require(SweepFixtures.refusal(SweepFixtures.options(file, ["duration=2s,10s", "faults[0].at=1s,5s"])))
        #expect(lines == [
            "\(file): faults[0].at: found \"5s\", expected less than the duration \"2s\" (with --vary duration=2s with --vary faults[0].at=5s)",
        ])
    }

    @Test("settings applied to every point are validated too")
    func settings() {
        let file = SweepFixtures.file("settings")
        var o = SweepFixtures.options(file, ["writer.rate=1000"])
        o.duration = "10 seconds"
        #expect(SweepFixtures.refusal(o) == [
            "\(file): duration: \"10 seconds\" is not a duration, expected a number and a unit: ns, us, ms, s, m, h (e.g. \"500us\", \"250ms\", \"1.5s\", \"2m\") (with --duration 10 seconds)",
        ])
        // A shorter duration leaves the fault past the end.
        o.duration = "1s"
        #expect(SweepFixtures.refusal(o)?.first?.contains("faults[0].at: found \"1s\", expected less than the duration \"1s\"") == true)
    }

    @Test("options that do not go together", arguments: [
        ([] as [String], nil as String?, nil as Int?, nil as String?, "nothing to sweep: expected --vary PATH=VALUES (e.g. --vary writer.rate=1000,2000,5000) or --find-max PATH (e.g. --find-max writer.rate)"),
        (["writer.rate=1", "readers[0].count=1", "writer.payloadBytes=1"], nil, nil, nil, "--vary: given 3 times, expected at most 2 (an x axis and one line per value of the second)"),
        (["readers[0].count=1", "writer.payloadBytes=1"], "writer.rate", nil, nil, "--vary: given 2 times with --find-max, expected at most 1 (a knee is searched for each of its values)"),
        (["writer.rate=1,2", "writer.rate=3"], nil, nil, nil, "--vary writer.rate: the path is already varied by --vary, expected each path once"),
        (["writer.rate=1,2"], "writer.rate", nil, nil, "--find-max writer.rate: the path is already varied by --vary, expected each path once"),
        ([], "writer.rate", 3, nil, "--repeat 3: not used with --find-max, whose probes repeat as --probe says (default 3/3,5/6)"),
        (["writer.rate=1"], nil, 0, nil, "--repeat 0: expected 1 ... 100 runs per point"),
        (["writer.rate=1"], nil, nil, "5%", "--tolerance 5%: only used with --find-max"),
    ])
    func conflicts(_ vary: [String], _ findMax: String?, _ repeats: Int?, _ tolerance: String?, _ message: String) {
        var o = SweepFixtures.options(SweepFixtures.file("conflicts"), vary, findMax: findMax)
        o.repeats = repeats
        o.tolerance = tolerance
        let lines = SweepFixtures.refusal(o)
        #expect(lines?.contains(message) == true, "\(lines ?? [])")
    }

    @Test("a grid of more than 1000 runs is refused")
    func tooManyRuns() {
        var o = SweepFixtures.options(SweepFixtures.file("many"), ["writer.rate=1..100+1", "writer.payloadBytes=1..11+1"])
        o.repeats = 1
        #expect(SweepFixtures.refusal(o) == [
            "the sweep would make 1100 runs (100 values of writer.rate × 11 values of writer.payloadBytes × 1 repeats), expected at most 1000",
        ])
    }

    @Test("--find-max: a number to search over, from the file or the defaults")
    func findMax() throws {
        let file = SweepFixtures.file("findmax")
        let plan = try SweepPlan.make(SweepFixtures.options(file, findMax: "writer.rate"))
        guard case .findMax(let f) = plan.mode else { Issue.record("not a search"); return }
        // 1024 × the start would be past the schema's 1 000 000 snapshots per second.
        #expect(f.start == 1000 && f.integral && f.upperLimit == 1_000_000 && f.lowerLimit == 1)
        #expect(f.rule == .standard && f.tolerance == .relative(0.05))
        // readers[1].count is not in the file: its default, 1.
        let counts = try SweepPlan.make(SweepFixtures.options(file, findMax: "readers[1].count"))
        guard case .findMax(let c) = counts.mode else { Issue.record("not a search"); return }
        #expect(c.start == 1 && c.upperLimit == 1024)
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, findMax: "readers[0].role")) == [
            "--find-max readers[0].role: \(file) has a string (\"cli\") there, expected a number to search over (the search changes numbers: writer.rate, readers[0].count)",
        ])
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, findMax: "writer.rat"))?.first?.hasPrefix("\(file): writer.rat: unknown key (did you mean \"rate\"?)") == true)
        var o = SweepFixtures.options(file, findMax: "writer.rate")
        o.max = "10"
        #expect(SweepFixtures.refusal(o) == ["--max 10: expected a number at or above the search's first value 1000"])
        o.max = nil
        o.probe = "3/2"
        #expect(SweepFixtures.refusal(o) == ["--probe 3/2: stage 1 needs 3 passes of 2 runs, expected 1 ... 2"])
        o.probe = nil
        o.tolerance = "-5%"
        #expect(SweepFixtures.refusal(o) == ["--tolerance -5%: expected a percentage such as 5% or an absolute width such as 500, above 0"])
    }

    @Test("an invalid topology file is refused as validate refuses it")
    func badFile() {
        let file = SweepFixtures.file("bad", #"{ "name": "x", "writer": { "rate": 10 }, "readers": [ { "role": "cli", "policy": "dorp" } ] }"#)
        #expect(SweepFixtures.refusal(SweepFixtures.options(file, ["writer.rate=1"])) == [
            "\(file): readers[0].policy: \"dorp\" is not one of drop, conflate, resync, snail",
        ])
    }
}
