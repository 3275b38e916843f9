import Foundation
import Testing

@testable import ClusterCore

/// One topology that must be rejected, and the lines its error must contain.
struct BadTopology: Sendable, CustomTestStringConvertible {
    let name: String
    let json: String
    /// Each must appear in the error's description, whose lines read `FILE: PATH: message`.
    let expected: [String]
    /// The exact number of issues, when the case pins it.
    var issueCount: Int? = nil

    var testDescription: String { name }
}

/// A valid base to break: writer, three groups, a fault.
private func topology(
    name: String = #""bad""#, top: String = "", writer: String = #"{"rate": 100}"#,
    readers: String = #"[{"role": "log", "count": 2}, {"role": "query"}, {"role": "cli", "count": 3}]"#,
    faults: String = "[]"
) -> String {
    #"{"name": \#(name), "duration": "20s", \#(top)"writer": \#(writer), "readers": \#(readers), "faults": \#(faults)}"#
}

private let f = "bad.json"

let badTopologies: [BadTopology] = [
    BadTopology(
        name: "direct subscriber: an unknown kind",
        json: topology(readers: #"[{"role": "cli", "subscriber": "raw"}]"#),
        expected: [#"bad.json: readers[0].subscriber: "raw" is not one of libzmq, direct"#],
        issueCount: 1),
    BadTopology(
        name: "direct subscriber on a relay, and with conflate",
        json: topology(readers: #"[{"role": "relay", "name": "r", "subscriber": "direct"}, {"role": "cli", "policy": "conflate", "subscriber": "direct"}]"#),
        expected: [#"bad.json: readers[0].subscriber: direct (the reader reads ZMTP itself) is for readers, not relays; expected libzmq"#,
                   #"bad.json: readers[1].subscriber: direct (the reader reads ZMTP itself) does not conflate: policy conflate needs libzmq"#],
        issueCount: 2),
    BadTopology(
        name: "the writer's own publisher: an unknown kind, and with CURVE and nodrop",
        json: topology(top: #""security": {"mode": "curve"}, "#, writer: #"{"rate": 100, "publisher": "direct", "nodrop": true}"#),
        expected: [#"bad.json: writer.publisher: direct (the writer writes ZMTP itself) speaks the NULL mechanism only: security mode curve needs libzmq"#,
                   #"bad.json: writer.publisher: direct (the writer writes ZMTP itself) drops at the high-water mark: nodrop needs libzmq"#],
        issueCount: 2),
    BadTopology(
        name: "the writer's publisher: an unknown kind",
        json: topology(writer: #"{"rate": 100, "publisher": "raw"}"#),
        expected: [#"bad.json: writer.publisher: "raw" is not one of libzmq, direct"#],
        issueCount: 1),
    BadTopology(
        name: "batch with the newest-state promise",
        json: topology(writer: #"{"rate": 100, "promise": "newest-state", "batch": {"maxDelay": "1ms"}}"#),
        expected: [#"bad.json: writer.batch: batching keeps every version, but the promise is "newest-state" (the writer coalesces instead); expected false or no batch"#],
        issueCount: 1),
    BadTopology(
        name: "coalesce beside the every-version promise",
        json: topology(writer: #"{"rate": 100, "promise": "every-version", "coalesce": true}"#),
        expected: [#"bad.json: writer.coalesce: true asks for the newest state only, but promise is "every-version"; expected false, or promise "newest-state""#],
        issueCount: 1),
    BadTopology(
        name: "batch out of range",
        json: topology(writer: #"{"rate": 100, "batch": {"maxCount": 1, "maxDelay": "2s"}}"#),
        expected: [#"bad.json: writer.batch.maxCount: 1 is out of range, expected 2 ... 4096"#,
                   #"bad.json: writer.batch.maxDelay: found "2s", expected at most "1s""#],
        issueCount: 2),
    BadTopology(
        name: "batch of the wrong type",
        json: topology(writer: #"{"rate": 100, "batch": 8}"#),
        expected: [#"bad.json: writer.batch: found a number (8), expected false, true or an object such as {"maxCount": 64, "maxDelay": "1ms"}"#],
        issueCount: 1),
    BadTopology(
        name: "batch with an unknown key, and a bad promise",
        json: topology(writer: #"{"rate": 100, "promise": "all", "batch": {"maxcount": 8}}"#),
        expected: [#"bad.json: writer.promise: "all" is not one of every-version, newest-state"#,
                   #"bad.json: writer.batch.maxcount: unknown key (did you mean "maxCount"?); expected one of maxCount, maxDelay"#],
        issueCount: 2),
    BadTopology(
        name: "unknown key with a suggestion",
        json: topology(readers: #"[{"role": "log", "polcy": "drop"}]"#),
        expected: [#"bad.json: readers[0].polcy: unknown key (did you mean "policy"?); expected one of role, name, count, policy, rcvhwm, rcvbuf, subscriber, processingDelay, lagLimit, startAt, via, load, workers, historySize, relay, logFlushEvery"#],
        issueCount: 1),
    BadTopology(
        name: "unknown key without a close match",
        json: topology(top: #""colour": "blue", "#),
        expected: [#"bad.json: colour: unknown key; expected one of version, name, description, seed, duration, warmup, readyTimeout, registerTimeout, launcher, cpuPinning, writer, readers, faults, chaos, slo, security"#],
        issueCount: 1),
    BadTopology(
        name: "unknown key that differs in case",
        json: topology(writer: #"{"rate": 100, "payloadbytes": 64}"#),
        expected: [#"bad.json: writer.payloadbytes: unknown key (did you mean "payloadBytes"?)"#]),
    BadTopology(
        name: "bad enum value",
        json: topology(readers: #"[{"role": "log"}, {"role": "cli"}, {"role": "query", "policy": "dorp"}]"#),
        expected: [#"bad.json: readers[2].policy: "dorp" is not one of drop, conflate, resync, snail"#],
        issueCount: 1),
    BadTopology(
        name: "bad cpu pinning",
        json: topology(top: #""cpuPinning": "sprad", "#),
        expected: [#"bad.json: cpuPinning: "sprad" is not one of off, spread"#],
        issueCount: 1),
    BadTopology(
        name: "bad role",
        json: topology(readers: #"[{"role": "logger"}]"#),
        expected: [#"bad.json: readers[0].role: "logger" is not one of log, query, cli, relay"#],
        issueCount: 1),
    BadTopology(
        name: "wrong type: count as a string",
        json: topology(readers: #"[{"role": "cli", "count": "10"}]"#),
        expected: [#"bad.json: readers[0].count: found a string ("10"), expected an integer"#],
        issueCount: 1),
    BadTopology(
        name: "wrong type: fractional count",
        json: topology(readers: #"[{"role": "cli", "count": 2.5}]"#),
        expected: [#"bad.json: readers[0].count: found a number (2.5), expected an integer"#]),
    BadTopology(
        name: "wrong type: readers is an object",
        json: topology(readers: #"{"role": "cli"}"#),
        expected: ["bad.json: readers: found an object, expected an array"],
        issueCount: 1),
    BadTopology(
        name: "wrong type: boolean",
        json: topology(writer: #"{"rate": 100, "nodrop": "yes"}"#),
        expected: [#"bad.json: writer.nodrop: found a string ("yes"), expected true or false"#]),
    BadTopology(
        name: "missing required writer",
        json: #"{"name": "bad", "readers": [{"role": "cli"}]}"#,
        expected: [#"bad.json: writer: missing required key, expected an object such as {"rate": 1000}"#],
        issueCount: 1),
    BadTopology(
        name: "missing required rate and name",
        json: #"{"writer": {}, "readers": [{"role": "cli"}]}"#,
        expected: [
            "bad.json: name: missing required key, expected a string of letters, digits, '.', '_' or '-'",
            "bad.json: writer.rate: missing required key, expected a number of snapshots per second",
        ],
        issueCount: 2),
    BadTopology(
        name: "missing role",
        json: topology(readers: #"[{"count": 3}]"#),
        expected: ["bad.json: readers[0].role: missing required key, expected one of log, query, cli, relay"],
        issueCount: 1),
    BadTopology(
        name: "count out of range",
        json: topology(readers: #"[{"role": "cli", "count": 5000}, {"role": "log", "count": 0}]"#),
        expected: [
            "bad.json: readers[0].count: 5000 is out of range, expected 1 ... 2000",
            "bad.json: readers[1].count: 0 is out of range, expected 1 ... 2000",
        ],
        issueCount: 2),
    BadTopology(
        name: "rate out of range",
        json: topology(writer: #"{"rate": 0}"#),
        expected: ["bad.json: writer.rate: 0 is out of range, expected more than 0 and at most 1000000 snapshots per second"],
        issueCount: 1),
    BadTopology(
        name: "payload size out of range",
        json: topology(writer: #"{"rate": 100, "payloadBytes": 2000000}"#),
        expected: ["bad.json: writer.payloadBytes: 2000000 is out of range, expected 0 ... 1048576"],
        issueCount: 1),
    BadTopology(
        name: "writer I/O threads out of range",
        json: topology(writer: #"{"rate": 100, "ioThreads": 0}"#),
        expected: ["bad.json: writer.ioThreads: 0 is out of range, expected 1 ... 16"],
        issueCount: 1),
    BadTopology(
        name: "nice values out of range",
        json: topology(writer: #"{"rate": 100, "nice": -21}"#, readers: #"[{"role": "cli", "nice": 20}]"#),
        expected: ["bad.json: writer.nice: -21 is out of range, expected -20 ... 19",
                   "bad.json: readers[0].nice: 20 is out of range, expected -20 ... 19"],
        issueCount: 2),
    BadTopology(
        name: "scheduling policy unknown",
        json: topology(writer: #"{"rate": 100, "scheduling": "fifo"}"#),
        expected: [#"bad.json: writer.scheduling: "fifo" is not one of normal, batch"#],
        issueCount: 1),
    BadTopology(
        name: "heartbeat out of range",
        json: topology(writer: #"{"rate": 100, "heartbeat": "1ms"}"#),
        expected: [#"bad.json: writer.heartbeat: found "1ms", expected at least "10ms" and at most "1m""#]),
    BadTopology(
        name: "bad duration string",
        json: #"{"name": "bad", "duration": "10 seconds", "writer": {"rate": 1}, "readers": [{"role": "cli"}]}"#,
        expected: [#"bad.json: duration: "10 seconds" is not a duration, expected a number and a unit: ns, us, ms, s, m, h (e.g. "500us", "250ms", "1.5s", "2m")"#],
        issueCount: 1),
    BadTopology(
        name: "duration without a unit",
        json: #"{"name": "bad", "duration": 10, "writer": {"rate": 1}, "readers": [{"role": "cli"}]}"#,
        expected: [#"bad.json: duration: found a number (10), expected a duration string with a unit, e.g. "10s" or "10ms""#]),
    BadTopology(
        name: "duration too long",
        json: #"{"name": "bad", "duration": "25h", "writer": {"rate": 1}, "readers": [{"role": "cli"}]}"#,
        expected: [#"bad.json: duration: found "25h", expected more than "0s" and at most "24h""#]),
    BadTopology(
        name: "fault target missing",
        json: topology(faults: #"[{"at": "5s", "action": "kill", "target": "cli-300"}]"#),
        expected: [#"bad.json: faults[0].target: found "cli-300", which names no node, expected a node name (writer, log-1, log-2, query-1, cli-1 ... cli-3)"#],
        issueCount: 1),
    BadTopology(
        name: "node fault aimed at a group",
        json: topology(faults: #"[{"at": "5s", "action": "kill", "target": "cli"}]"#),
        expected: [#"bad.json: faults[0].target: found "cli", which names no node ("cli" is a group; kill targets one node)"#]),
    BadTopology(
        name: "fault after the end",
        json: topology(faults: #"[{"at": "30s", "action": "kill", "target": "cli-1"}]"#),
        expected: [#"bad.json: faults[0].at: found "30s", expected less than the duration "20s""#],
        issueCount: 1),
    BadTopology(
        name: "fault missing for",
        json: topology(faults: #"[{"at": "5s", "action": "cpu-hog", "target": "cli-1"}]"#),
        expected: [#"bad.json: faults[0].for: missing, expected how long cpu-hog lasts, e.g. "2s""#],
        issueCount: 1),
    BadTopology(
        name: "for on a kill",
        json: topology(faults: #"[{"at": "5s", "action": "kill", "target": "cli-1", "for": "1s"}]"#),
        expected: ["bad.json: faults[0].for: not used by action kill; only pause, cpu-hog, partition, loss, bandwidth and delay heal after a time"]),
    BadTopology(
        name: "a key with a newline stays on one line",
        json: #"{"name": "x", "duration": "20s", "writer": {"rate": 100, "ra\nte": 1}, "readers": [{"role": "relay", "name": "a\nb"}, {"role": "cli", "via": "c"}]}"#,
        expected: [#"bad.json: writer["ra\nte"]: unknown key (did you mean "rate"?); expected one of "#,
                   #"bad.json: readers[0].name: "#,
                   #"bad.json: readers[1].via: found "c", which names no group, expected the name of a relay group: a\nb"#]),
    BadTopology(
        name: "threads on a pause",
        json: topology(faults: #"[{"at": "5s", "action": "pause", "target": "cli-1", "for": "1s", "threads": 2}]"#),
        expected: ["bad.json: faults[0].threads: not used by action pause; only cpu-hog takes it"],
        issueCount: 1),
    BadTopology(
        name: "a cpu hog of no threads",
        json: topology(faults: #"[{"at": "5s", "action": "cpu-hog", "target": "cli-1", "for": "1s", "threads": 0}]"#),
        expected: ["bad.json: faults[0].threads: found 0, expected 1 ... 64 spinning threads"],
        issueCount: 1),
    BadTopology(
        name: "resume without a pause",
        json: topology(faults: #"[{"at": "5s", "action": "pause", "target": "cli-2"}, {"at": "6s", "action": "resume", "target": "cli-1"}]"#),
        expected: [#"bad.json: faults[1].target: found no earlier pause of "cli-1", expected resume to follow a pause of the same node"#],
        issueCount: 1),
    BadTopology(
        name: "network fault needs netns",
        json: topology(faults: #"[{"at": "5s", "action": "partition", "target": "cli", "for": "1s"}]"#),
        expected: ["bad.json: faults[0].action: partition needs launcher netns, compose or swarm, found launcher local"],
        issueCount: 1),
    BadTopology(
        name: "registerTimeout out of range",
        json: topology(top: #""registerTimeout": "0s", "launcher": "external", "#),
        expected: [#"bad.json: registerTimeout: found "0s", expected more than "0s" and at most "1h""#],
        issueCount: 1),
    BadTopology(
        name: "bad bandwidth and missing loss",
        json: topology(top: #""launcher": "netns", "#, faults: #"[{"at": "5s", "action": "bandwidth", "target": "cli", "for": "1s", "bandwidth": "fast"}, {"at": "6s", "action": "loss", "target": "log-1", "for": "1s"}]"#),
        expected: [
            #"bad.json: faults[0].bandwidth: found "fast", expected a positive number and a unit: kbit, mbit, gbit, bps, kbps, mbps (e.g. "1mbit")"#,
            "bad.json: faults[1].loss: missing, expected a fraction more than 0 and at most 1 for action loss",
        ],
        issueCount: 2),
    BadTopology(
        name: "bad fault action",
        json: topology(faults: #"[{"at": "5s", "action": "explode", "target": "cli-1"}]"#),
        expected: [#"bad.json: faults[0].action: "explode" is not one of kill, terminate, pause, resume, restart, cpu-hog, partition, loss, bandwidth, delay"#],
        issueCount: 1),
    BadTopology(
        name: "duplicate group names",
        json: topology(readers: #"[{"role": "log", "count": 2}, {"role": "cli"}, {"role": "log"}]"#),
        expected: [#"bad.json: readers[2]: group name "log" is already used by readers[0]; set "name" on one of them to tell them apart"#],
        issueCount: 1),
    BadTopology(
        name: "duplicate node names",
        json: topology(readers: #"[{"role": "log", "count": 2}, {"role": "cli", "name": "log-2"}]"#),
        expected: [#"bad.json: readers[1]: node name "log-2" is already used by readers[0]; choose another "name""#],
        issueCount: 1),
    BadTopology(
        name: "group named writer",
        json: topology(readers: #"[{"role": "cli", "name": "writer"}]"#),
        expected: [#"bad.json: readers[0].name: "writer" is reserved for the writer, expected another name"#],
        issueCount: 1),
    BadTopology(
        name: "bad names",
        json: topology(name: #""my run""#, readers: #"[{"role": "cli", "name": "a/b"}]"#),
        expected: [
            #"bad.json: name: found "my run", expected a name of letters, digits, '.', '_' or '-'"#,
            #"bad.json: readers[0].name: found "a/b", expected a name of letters, digits, '.', '_' or '-'"#,
        ],
        issueCount: 2),
    BadTopology(
        name: "via to a non-relay group",
        json: topology(readers: #"[{"role": "log"}, {"role": "cli", "via": "log"}]"#),
        expected: [#"bad.json: readers[1].via: found "log", a log group, expected the name of a relay group"#],
        issueCount: 1),
    BadTopology(
        name: "via to a missing group and to itself",
        json: topology(readers: #"[{"role": "relay", "name": "hub"}, {"role": "cli", "via": "hubb"}, {"role": "relay", "name": "r2", "via": "r2"}]"#),
        expected: [
            #"bad.json: readers[1].via: found "hubb", which names no group, expected the name of a relay group: hub, r2"#,
            #"bad.json: readers[2].via: found the group's own name "r2", expected another relay group"#,
        ],
        issueCount: 2),
    BadTopology(
        name: "relays in a cycle",
        json: topology(readers: #"[{"role": "relay", "name": "a", "via": "b"}, {"role": "relay", "name": "b", "via": "a"}]"#),
        expected: ["bad.json: readers[0].via: relays subscribe through each other in a cycle (a → b → a), expected a tree rooted at the writer"],
        issueCount: 1),
    BadTopology(
        name: "group named like another group's node",
        json: topology(readers: #"[{"role": "log", "count": 2}, {"role": "cli", "name": "log-1", "count": 2}]"#),
        expected: [#"bad.json: readers[1]: group name "log-1" is also the name of a node of readers[0], so a fault target would be ambiguous; choose another "name""#],
        issueCount: 1),
    BadTopology(
        name: "load on a non-query group",
        json: topology(readers: #"[{"role": "cli", "load": {"clients": 2, "rate": 10}}]"#),
        expected: ["bad.json: readers[0].load: found on role cli, allowed only on role query"],
        issueCount: 1),
    BadTopology(
        name: "relay settings and workers on other roles",
        json: topology(readers: #"[{"role": "log", "relay": {"delay": "1ms"}, "workers": 8}]"#),
        expected: [
            "bad.json: readers[0].relay: found on role log, allowed only on role relay",
            "bad.json: readers[0].workers: found on role log, allowed only on role query",
        ],
        issueCount: 2),
    BadTopology(
        name: "query load out of range",
        json: topology(readers: #"[{"role": "query", "load": {"clients": 0, "rate": 10, "mix": {"getLatst": 1}}}]"#),
        expected: [
            #"bad.json: readers[0].load.mix.getLatst: unknown key (did you mean "getLatest"?); expected one of getLatest, getVersion, health, metrics"#,
            "bad.json: readers[0].load.clients: 0 is out of range, expected 1 ... 1000",
        ]),
    BadTopology(
        name: "startAt after the end",
        json: topology(readers: #"[{"role": "cli", "startAt": "1m"}]"#),
        expected: [#"bad.json: readers[0].startAt: found "1m", expected less than the duration "20s""#],
        issueCount: 1),
    BadTopology(
        name: "mean on a uniform delay",
        json: topology(readers: #"[{"role": "cli", "processingDelay": {"distribution": "uniform", "min": "1ms", "max": "5ms", "mean": "3ms"}}]"#),
        expected: [
            "bad.json: readers[0].processingDelay.mean: not used by distribution uniform (its mean is the midpoint of min and max)",
        ],
        issueCount: 1),
    BadTopology(
        name: "uniform delay min above max",
        json: topology(readers: #"[{"role": "cli", "processingDelay": {"distribution": "uniform", "min": "5ms", "max": "1ms"}}]"#),
        expected: [#"bad.json: readers[0].processingDelay.min: found "5ms", expected at most max ("1ms")"#],
        issueCount: 1),
    BadTopology(
        name: "unknown scripted event",
        json: topology(writer: #"{"rate": 100, "events": [{"at": "1s", "event": "boot"}, {"at": "2s", "event": "reboot"}]}"#),
        expected: [#"bad.json: writer.events[1].event: "reboot" is not one of boot, boot_completed, activate, deactivate, fail, recover, retry, shutdown"#],
        issueCount: 1),
    BadTopology(
        name: "chaos with a network action and an unmatched target",
        json: topology(top: #""chaos": {"rate": 2, "actions": ["kill", "partition"], "targets": ["role:cli", "relay-*"]}, "#),
        expected: [
            #"bad.json: chaos.actions[1]: "partition" is not one of kill, terminate, pause, restart, cpu-hog"#,
            #"bad.json: chaos.targets[1]: "relay-*" matches no node"#,
        ],
        issueCount: 2),
    BadTopology(
        name: "SLO values not positive",
        json: topology(top: #""slo": {"p99LatencyMs": -5, "maxLossFastReaders": -1, "maxBusyRatio": 2, "perRole": {"qery": {"p99Ms": 1}}}, "#),
        expected: [
            #"bad.json: slo.perRole.qery: "qery" is not one of log, query, cli, relay"#,
            "bad.json: slo.p99LatencyMs: -5 is out of range, expected more than 0 and at most 1000000000000",
            "bad.json: slo.maxLossFastReaders: found -1, expected an integer of at least 0",
            "bad.json: slo.maxBusyRatio: 2 is out of range, expected at least 0 and at most 1",
        ],
        issueCount: 4),
    BadTopology(
        name: "duplicate key",
        json: "{\"name\": \"bad\",\n \"writer\": {\"rate\": 1},\n \"readers\": [{\"role\": \"cli\"}],\n \"name\": \"again\"}",
        expected: ["bad.json: name: duplicate key (first at line 1), expected each key once"],
        issueCount: 1),
    BadTopology(
        name: "several errors at once",
        json: #"""
        {
          "name": "bad",
          "duration": "5x",
          "writer": {"rate": -1, "transport": "udp"},
          "readers": [
            {"role": "cli", "count": 0, "polcy": "drop"},
            {"role": "query", "policy": "dorp"}
          ],
          "faults": [{"at": "1s", "action": "kill", "target": "nobody"}]
        }
        """#,
        expected: [
            #"bad.json: duration: "5x" is not a duration"#,
            #"bad.json: writer.transport: "udp" is not one of tcp, ipc"#,
            #"bad.json: readers[0].polcy: unknown key (did you mean "policy"?)"#,
            #"bad.json: readers[1].policy: "dorp" is not one of drop, conflate, resync, snail"#,
            "bad.json: writer.rate: -1 is out of range",
            "bad.json: readers[0].count: 0 is out of range, expected 1 ... 2000",
            #"bad.json: faults[0].target: found "nobody", which names no node"#,
        ],
        issueCount: 7),
    BadTopology(
        name: "broken group does not cascade",
        json: topology(readers: #"["cli", {"role": "cli", "count": 2}]"#, faults: #"[{"at": "1s", "action": "kill", "target": "cli-2"}]"#),
        expected: [#"bad.json: readers[0]: found a string ("cli"), expected an object"#],
        issueCount: 1),
    BadTopology(
        name: "malformed JSON",
        json: "{\n  \"name\": \"bad\",\n  \"writer\": {\"rate\": 1,}\n}",
        expected: [#"bad.json: line 3, column 24: invalid JSON: found '}', expected a key in double quotes"#],
        issueCount: 1),
    BadTopology(
        name: "malformed JSON: unclosed",
        json: #"{"name": "bad", "readers": ["#,
        expected: ["bad.json: line 1, column 29: invalid JSON: found the end of the file, expected a value"],
        issueCount: 1),
    BadTopology(
        name: "trailing garbage",
        json: #"{"name": "bad"} x"#,
        expected: ["bad.json: line 1, column 17: invalid JSON: found 'x' after the end of the document, expected nothing more"]),
    BadTopology(
        name: "empty file",
        json: "  \n",
        expected: ["bad.json: the file is empty, expected a JSON object describing a topology"],
        issueCount: 1),
    BadTopology(
        name: "not an object",
        json: #"[{"name": "bad"}]"#,
        expected: ["bad.json: found an array, expected an object"],
        issueCount: 1),
    BadTopology(
        name: "schema version 2",
        json: #"{"version": 2, "name": "bad", "shiny": true, "writer": {"rate": 1}, "readers": []}"#,
        expected: ["bad.json: version: 2 is not supported, expected 1 (the schema version this build reads)"],
        issueCount: 1),
    // Values the nodes cannot run, names that break files and command lines.
    BadTopology(
        name: "a writer rate too low to pace",
        json: topology(writer: #"{"rate": 1e-300}"#),
        expected: ["bad.json: writer.rate: 1e-300 is too low, expected at least 0.001 snapshots per second (one every 1000 s)"],
        issueCount: 1),
    BadTopology(
        name: "a load rate too low to pace",
        json: topology(readers: #"[{"role": "query", "load": {"clients": 2, "rate": 1e-300}}]"#),
        expected: ["bad.json: readers[0].load.rate: 1e-300 is too low, expected at least 0.001 requests per second (one every 1000 s)"],
        issueCount: 1),
    BadTopology(
        name: "a group named like a query group's load generator",
        json: topology(readers: #"[{"role": "query", "name": "q", "load": {"clients": 2, "rate": 10}}, {"role": "cli", "name": "q-load"}]"#),
        expected: [#"bad.json: readers[1]: the name "q-load" is taken by the load generator of readers[0] (a query group's load generator is named <group>-load); choose another "name""#],
        issueCount: 1),
    BadTopology(
        name: "a node named like a cpu-hog fault's process",
        json: topology(readers: #"[{"role": "cli", "name": "cpu-hog", "count": 2}]"#),
        expected: [#"bad.json: readers[0]: the name "cpu-hog" is reserved for the processes of cpu-hog faults (cpu-hog-1, cpu-hog-2, …); choose another "name""#],
        issueCount: 1),
    BadTopology(
        name: "names that are paths or options",
        json: topology(readers: #"[{"role": "cli", "name": "."}, {"role": "cli", "name": ".."}, {"role": "log", "name": "-rf"}]"#),
        expected: [
            #"bad.json: readers[0].name: found ".", expected a name that starts with a letter or a digit"#,
            #"bad.json: readers[1].name: found "..", expected a name that starts with a letter or a digit"#,
            #"bad.json: readers[2].name: found "-rf", expected a name that starts with a letter or a digit"#,
        ]),
    BadTopology(
        name: "more nodes than any machine runs",
        json: topology(readers: "[" + (0..<500).map { #"{"role": "cli", "name": "g\#($0)", "count": 2000}"# }.joined(separator: ", ") + "]"),
        expected: ["bad.json: readers: the groups add up to 1000001 nodes, expected at most 5000"],
        issueCount: 1),
    BadTopology(
        name: "bytes that are not UTF-8 in a string",
        json: "{\"name\": \"bad\", \"description\": \"caf\u{FFFD}\", \"writer\": {\"rate\": 1}, \"readers\": [{\"role\": \"cli\"}]}",
        expected: ["invalid JSON: found bytes that are not UTF-8 in a string, expected UTF-8 text"],
        issueCount: 1),
]

@Suite("Topology errors")
struct TopologyBadCorpusTests {
    @Test func corpusIsLarge() {
        #expect(badTopologies.count >= 20)
        #expect(Set(badTopologies.map(\.name)).count == badTopologies.count)
    }

    @Test(arguments: badTopologies)
    func rejected(_ bad: BadTopology) {
        do {
            // U+FFFD in a case's text stands for a byte that is not UTF-8.
            let bytes = Array(bad.json.utf8).split(separator: 0xEF, omittingEmptySubsequences: false)
            var data = Data(bytes.first ?? [])
            for chunk in bytes.dropFirst() {
                if chunk.starts(with: [0xBF, 0xBD]) { data.append(0xFF); data.append(contentsOf: chunk.dropFirst(2)) }
                else { data.append(0xEF); data.append(contentsOf: chunk) }
            }
            let topology = try TopologyLoader.parse(data, file: f)
            Issue.record("accepted: \(topology.name)")
        } catch let error as TopologyError {
            let text = error.description
            #expect(error.file == f)
            for line in bad.expected {
                #expect(text.contains(line), "missing \(line)\n--- got:\n\(text)")
            }
            if let count = bad.issueCount {
                #expect(error.issues.count == count, "got:\n\(text)")
            }
            #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("\(f): ") })
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a file of twenty thousand mistakes keeps a bounded list and prints fifty")
    func errorsAreBounded() throws {
        let json = topology(readers: "[" + Array(repeating: #"{"role": "clii"}"#, count: 20_000).joined(separator: ",") + "]")
        do {
            _ = try TopologyLoader.parse(Data(json.utf8), file: f)
            Issue.record("accepted")
        } catch let error as TopologyError {
            #expect(error.issues.count <= 1_001, "\(error.issues.count) issues kept")
            #expect(error.issues.last?.message.contains("stopped after 1000 problems") == true)
            let lines = error.description.split(separator: "\n")
            #expect(lines.count == TopologyError.maxListed + 1, "\(lines.count) lines")
            #expect(lines.last?.contains("more problems (the first 50 are listed)") == true, "\(lines.last ?? "")")
        }
    }

    @Test("only a regular file of at most 4 MiB is read")
    func notARegularFile() throws {
        func message(_ path: String) -> String? {
            do { _ = try TopologyLoader.load(path: path); return nil } catch { return "\(error)" }
        }
        #expect(message("/dev/null") == "/dev/null: is a character device, expected a regular file holding a JSON topology")
        #expect(message("/tmp") == "/tmp: is a directory, expected a regular file holding a JSON topology")
        let fifo = NSTemporaryDirectory() + "topology-fifo-\(UUID().uuidString.prefix(8))"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        #expect(message(fifo) == "\(fifo): is a FIFO, expected a regular file holding a JSON topology")
        let big = NSTemporaryDirectory() + "topology-big-\(UUID().uuidString.prefix(8)).json"
        try Data(count: TopologyLoader.maxFileBytes + 1).write(to: URL(fileURLWithPath: big))
        defer { unlink(big) }
        #expect(message(big)?.hasSuffix("expected at most 4194304 (a topology is a few kilobytes of JSON)") == true, "\(message(big) ?? "")")
    }

    @Test func missingFile() {
        #expect {
            try TopologyLoader.load(path: "/nonexistent/topology.json")
        } throws: { error in
            (error as? TopologyError)?.description == "/nonexistent/topology.json: no such file"
        }
    }
}
