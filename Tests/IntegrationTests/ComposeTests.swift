import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing

/// Tools the compose tests use when the machine has them.
enum ComposeTools {
    /// An executable on PATH.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var dockerCompose: String? { which("docker-compose") }
    static var hasDockerCompose: Bool { dockerCompose != nil }

    /// Whether python3 with PyYAML (a YAML 1.1 parser, docker-compose v1's own) is there.
    @Sendable static func hasPyYAML() async -> Bool {
        guard let python = which("python3") else { return false }
        let r = try? await Harness.run(python, ["-c", "import yaml"], timeout: 30)
        return r?.status == 0
    }

    /// Parses a YAML file with PyYAML's safe_load and returns it as JSON objects.
    static func load(yaml path: String) async throws -> Any {
        let python = try #require(which("python3"))
        let r = try await Harness.run(python, ["-c", """
            import json, sys, yaml
            json.dump(yaml.safe_load(open(sys.argv[1], encoding="utf-8")), sys.stdout)
            """, path], timeout: 60)
        try #require(r.status == 0, "PyYAML could not read \(path): \(r.stderr)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed])
    }

    /// Runs `docker-compose -f FILE ARGS…`.
    static func compose(_ file: String, _ args: [String]) async throws -> Harness.Result {
        let exe = try #require(dockerCompose)
        // A project name of its own: nothing is started, but keep clear of any real project.
        return try await Harness.run(exe, ["-f", file, "-p", "clustersimtest"] + args, timeout: 120)
    }

    static func topology(_ name: String) throws -> Topology {
        try TopologyLoader.load(path: Harness.root + "/topologies/" + name)
    }
}

// MARK: - YAML emitter

@Suite("compose: YAML emitter")
struct YAMLEmitterTests {
    @Test("string scalars are double-quoted, with escapes")
    func quoting() {
        #expect(YAML.quoted("") == #""""#)
        #expect(YAML.quoted("a: b") == #""a: b""#)
        #expect(YAML.quoted("# not a comment") == ##""# not a comment""##)
        #expect(YAML.quoted(#"say "hi" and 'bye'"#) == #""say \"hi\" and 'bye'""#)
        #expect(YAML.quoted("-x") == #""-x""#)
        #expect(YAML.quoted("- item") == #""- item""#)
        #expect(YAML.quoted("yes") == #""yes""#)
        #expect(YAML.quoted("no") == #""no""#)
        #expect(YAML.quoted(#"C:\dir"#) == #""C:\\dir""#)
        #expect(YAML.quoted("two\nlines\tand\r") == #""two\nlines\tand\r""#)
        #expect(YAML.quoted("bell\u{7} nel\u{85} ls\u{2028}") == #""bell\u0007 nel\u0085 ls\u2028""#)
        #expect(YAML.quoted("tcp://*:5555") == #""tcp://*:5555""#)
        #expect(YAML.quoted("é ✓") == "\"é ✓\"")
    }

    @Test("keys are plain only when nothing could read them as anything but a string")
    func keys() {
        #expect(YAML.key("services") == "services")
        #expect(YAML.key("log-1") == "log-1")
        #expect(YAML.key("x-node") == "x-node")
        #expect(YAML.key("CLUSTERSIM_CONTROL") == "CLUSTERSIM_CONTROL")
        #expect(YAML.key("<<") == "<<")
        #expect(YAML.key("yes") == #""yes""#)
        #expect(YAML.key("No") == #""No""#)
        #expect(YAML.key("on") == #""on""#)
        #expect(YAML.key("null") == #""null""#)
        #expect(YAML.key("1-reader") == #""1-reader""#)
        #expect(YAML.key("a b") == #""a b""#)
        #expect(YAML.key("") == #""""#)
    }

    @Test("lists, maps, anchors and aliases render as YAML blocks")
    func structure() {
        let text = YAML.render([
            YAMLEntry("x-base", .map([YAMLEntry("init", .bool(true)), YAMLEntry("replicas", .int(1))]), anchor: "base"),
            YAMLEntry("services", .map([
                YAMLEntry("a", .map([
                    YAMLEntry("<<", .alias("base")),
                    YAMLEntry("command", .list([.string("run"), .string("--out")])),
                    YAMLEntry("volumes", .list([.map([YAMLEntry("type", .string("volume")), YAMLEntry("target", .string("/runs"))])])),
                    YAMLEntry("empty", .list([])),
                ])),
            ])),
            YAMLEntry("volumes", .map([YAMLEntry("runs", .map([]))])),
        ], header: ["a header", "with a\nnewline"])
        #expect(text == """
            # a header
            # with a newline

            x-base: &base
              init: true
              replicas: 1

            services:
              a:
                <<: *base
                command: ["run", "--out"]
                volumes:
                  - type: "volume"
                    target: "/runs"
                empty: []

            volumes:
              runs: {}

            """)
    }

    /// Values that a careless emitter turns into something else.
    static let awkward: [String] = [
        "", " ", "a: b", "a:b", "# hash", "value # comment", #"double "quotes""#, "single 'quotes'",
        "-", "-x", "- item", "? key", "yes", "no", "Yes", "NO", "on", "off", "y", "n", "true", "False",
        "null", "~", "1", "0x1F", "1e3", "1.0", ".inf", "0o17", "2001-12-14", "12:30:00", "*alias", "&anchor",
        "!tag", "%directive", "@at", "`tick`", "{a: 1}", "[a, b]", "|", ">", "a\nb", "tab\there",
        #"back\slash"#, "trailing space ", "\u{1} control", "nel\u{85}", "ls\u{2028}ps\u{2029}", "bom\u{FEFF}",
        "é ✓ 🚀", "tcp://*:5555", "$HOME", "${X}", "---", "...", "=",
    ]

    @Test("every awkward value reads back unchanged with PyYAML (YAML 1.1), in blocks and in wrapped flow lists",
          .enabled("needs python3 with PyYAML", ComposeTools.hasPyYAML))
    func roundTrip() async throws {
        let values = Self.awkward
        let doc = YAML.render([
            YAMLEntry("map", .map(values.enumerated().map { YAMLEntry("k\($0.offset)", .string($0.element)) })),
            YAMLEntry("keys", .map(values.enumerated().map { YAMLEntry($0.element + "#\($0.offset)", .int($0.offset)) })),
            YAMLEntry("flow", .list(values.map(YAMLValue.string))),
            YAMLEntry("block", .list(values.map { .map([YAMLEntry("v", .string($0))]) })),
        ])
        let dir = Harness.tempDirectory("yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/awkward.yml"
        try doc.write(toFile: file, atomically: true, encoding: .utf8)
        let root = try #require(try await ComposeTools.load(yaml: file) as? [String: Any])
        let map = try #require(root["map"] as? [String: String])
        let keys = try #require(root["keys"] as? [String: Int])
        let flow = try #require(root["flow"] as? [String])
        let block = try #require(root["block"] as? [[String: String]])
        for (i, v) in values.enumerated() {
            #expect(map["k\(i)"] == v, "value \(i) \(v.debugDescription) read back as \(String(describing: map["k\(i)"]).debugDescription)")
            #expect(keys[v + "#\(i)"] == i, "key \((v + "#\(i)").debugDescription) did not read back")
        }
        #expect(flow == values)
        #expect(block.map { $0["v"] ?? "<missing>" } == values)
    }

    @Test("compose interpolation: a literal $ is written $$")
    func interpolation() {
        #expect(ComposeGenerator.escapeInterpolation("cost $5 ${X}") == "cost $$5 $${X}")
        #expect(ComposeGenerator.escapeInterpolation("tcp://*:5555") == "tcp://*:5555")
    }
}

// MARK: - Generated compose files

@Suite("compose: generated and committed files", .serialized)
struct ComposeFileTests {
    /// The 100-readers compose file, with an image so nothing would be built.
    func hundredReaders() throws -> ComposeFile {
        let t = try ComposeTools.topology("100-readers.json")
        return try ComposeGenerator(topology: t, topologySource: Harness.root + "/topologies/100-readers.json",
                                    image: "clustersim:test").generate()
    }

    /// The service names a topology's compose file must have: a service per
    /// node, except cli and log groups of several nodes, one service each.
    static func expectedServices(_ t: Topology) -> [String] {
        var names: [String] = []
        for spec in t.nodes {
            let replicated = spec.reader.map { $0.count > 1 && ($0.role == .cli || $0.role == .log) && $0.via == nil } ?? false
            let name = replicated ? spec.group : spec.name
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    @Test("100-readers: a service per node group (cli and log groups replicated), plus the orchestrator and the query load generator")
    func hundredReadersServices() throws {
        let t = try ComposeTools.topology("100-readers.json")
        let file = try hundredReaders()
        let names = file.services.map(\.name)
        #expect(names == ["orchestrator"] + Self.expectedServices(t) + ["query-load"])
        #expect(names == ["orchestrator", "writer", "log"] + (1...10).map { "query-\($0)" } + ["cli", "slow", "query-load"])
        #expect(Set(names).count == names.count)
        #expect(file.service(named: "log")?.replicas == 10)
        #expect(file.service(named: "cli")?.replicas == 79)
        // Every node of the topology is one container: the replicas add up.
        let nodeContainers = file.services.filter { !["orchestrator", "query-load"].contains($0.name) }.map(\.replicas).reduce(0, +)
        #expect(nodeContainers == t.nodes.count)
        #expect(file.yaml.contains("replicas: 79"))
        #expect(file.buildContext == nil, "an image was given: nothing is built")
        #expect(!file.yaml.contains("build:"))
    }

    @Test("100-readers: reader commands connect to the writer by service name, as the local launcher maps them")
    func hundredReadersCommands() throws {
        let t = try ComposeTools.topology("100-readers.json")
        let file = try hundredReaders()
        func value(_ option: String, in command: [String]) -> String? {
            command.firstIndex(of: option).flatMap { $0 + 1 < command.count ? command[$0 + 1] : nil }
        }
        for spec in t.nodes {
            let replicated = file.service(named: spec.name) == nil
            let svc = try #require(file.service(named: replicated ? spec.group : spec.name))
            #expect(svc.dependsOn.first == "orchestrator")
            guard let g = spec.reader else {
                #expect(Array(svc.command.prefix(3)) == ["writer", "--name", "writer"])
                #expect(value("--pub", in: svc.command) == "tcp://*:5555")
                #expect(value("--snapshots", in: svc.command) == "tcp://*:5556")
                #expect(value("--sndbuf", in: svc.command) == "262144")
                continue
            }
            let c = svc.command
            #expect(c.first == "reader")
            if replicated {
                // The replicas claim their names, and with them their seeds, from the orchestrator.
                #expect(value("--claim-name", in: c) == spec.group && !c.contains("--name") && !c.contains("--seed"), "\(c)")
                #expect(svc.replicas == g.count)
            } else {
                #expect(value("--name", in: c) == spec.name)
                #expect(value("--seed", in: c) == "\(t.seed &+ UInt64(spec.index) &* 7919)")
                #expect(svc.replicas == 1)
            }
            #expect(value("--role", in: c) == g.role.rawValue)
            #expect(value("--pub", in: c) == "tcp://writer:5555", "\(spec.name): \(c)")
            #expect(value("--snapshots", in: c) == "tcp://writer:5556")
            #expect(value("--policy", in: c) == g.policy.rawValue)
            #expect(value("--rcvhwm", in: c) == "\(g.rcvhwm)")
            #expect(value("--lag-limit", in: c) == "\(g.lagLimit)")
            #expect(value("--clock", in: c) == nil, "one engine, one host: readers measure on the monotonic clock")
            switch g.role {
            case .log:
                #expect(value("--log-file", in: c) == "/runs/nodes/\(replicated ? "{name}" : spec.name)/snapshots.jsonl")
                #expect(svc.mountsRuns)
            case .query:
                #expect(value("--service", in: c) == "tcp://*:5700")
                #expect(value("--workers", in: c) == "\(g.workers)")
            default:
                #expect(!c.contains("--service") && !c.contains("--log-file"))
            }
        }
        let slow = try #require(file.service(named: "slow"))
        #expect(value("--delay", in: slow.command) == "2000000ns")
        #expect(value("--rcvbuf", in: slow.command) == "65536")
        #expect(value("--policy", in: slow.command) == "resync")

        let load = try #require(file.service(named: "query-load"))
        let targets = load.command.indices.filter { load.command[$0] == "--target" }.map { load.command[$0 + 1] }
        #expect(targets == (1...10).map { "tcp://query-\($0):5700" })
        let orchestrator = try #require(file.service(named: "orchestrator"))
        #expect(orchestrator.entrypoint == ["/usr/local/bin/orchestrator"])
        #expect(orchestrator.command == ["run", "--launcher", "external", "--control-bind", "tcp://*:5600",
                                         "/topologies/100-readers.json", "--out", "/runs"])
        #expect(orchestrator.mountsRuns)
        #expect(orchestrator.configs.map(\.target) == ["/topologies/100-readers.json"])
        #expect(file.configs.map(\.name) == ["topology"] && file.configs.map(\.file) == [Harness.root + "/topologies/100-readers.json"])
        // Every node waits for the orchestrator only; swarm resolves every service to its tasks (no IPVS needed).
        for svc in file.services where svc.name != "orchestrator" { #expect(svc.dependsOn == ["orchestrator"], "\(svc.name)") }
        let yaml = file.yaml
        #expect(yaml.contains(#"endpoint_mode: "dnsrr""#))
        #expect(yaml.contains(#"constraints: ["node.role == manager"]"#))
        // For compose the topology is a bind mount (compose v1 ignores configs); for swarm a config, no host path.
        #expect(yaml.contains(#"type: "bind""#) && !yaml.contains("configs:"))
        var swarm = try ComposeGenerator(topology: ComposeTools.topology("100-readers.json"),
                                         topologySource: "./100-readers.json", image: "clustersim:test", forSwarm: true)
        swarm.orchestratorArguments = ["--duration", "5s"]
        let stack = try swarm.generate()
        #expect(!stack.yaml.contains(#"type: "bind""#) && stack.yaml.contains("configs:") && stack.yaml.contains(#"file: "./100-readers.json""#))
        #expect(stack.service(named: "orchestrator")?.command.suffix(2) == ["--duration", "5s"])
        // A swarm's containers may run on other hosts: its readers measure on the wall clock, corrected.
        for svc in stack.services where svc.command.first == "reader" {
            #expect(value("--clock", in: svc.command) == "wall", "\(svc.name): \(svc.command)")
        }
    }

    @Test("100-readers: docker-compose config accepts the generated file and lists exactly its services",
          .enabled(if: ComposeTools.hasDockerCompose, "docker-compose is not on PATH (scripts/setup.sh installs it)"))
    func hundredReadersValidates() async throws {
        let t = try ComposeTools.topology("100-readers.json")
        let dir = Harness.tempDirectory("compose")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/compose-100.yml"
        try hundredReaders().yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let check = try await ComposeTools.compose(path, ["config", "-q"])
        #expect(check.status == 0, "docker-compose config -q: \(check.stderr)")
        let listed = try await ComposeTools.compose(path, ["config", "--services"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let services = Set(listed.stdout.split(separator: "\n").map(String.init))
        #expect(services == Set(Self.expectedServices(t) + ["orchestrator", "query-load"]))
        // docker-compose reads the replica counts back.
        let full = try await ComposeTools.compose(path, ["config"])
        #expect(full.status == 0)
        #expect(full.stdout.contains("replicas: 79") && full.stdout.contains("replicas: 10"))
    }

    @Test("the committed docker-compose.yml passes docker-compose config",
          .enabled(if: ComposeTools.hasDockerCompose, "docker-compose is not on PATH (scripts/setup.sh installs it)"))
    func committedValidates() async throws {
        let check = try await ComposeTools.compose(Harness.root + "/docker-compose.yml", ["config", "-q"])
        #expect(check.status == 0, "docker-compose config -q: \(check.stderr)")
        let listed = try await ComposeTools.compose(Harness.root + "/docker-compose.yml", ["config", "--services"])
        let t = try ComposeTools.topology("compose-demo.json")
        #expect(Set(listed.stdout.split(separator: "\n").map(String.init))
                == Set(ComposeFileTests.expectedServices(t) + ["orchestrator", "query-load"]))
    }

    @Test("the committed docker-compose.yml runs the nodes of compose-demo.json with the generator's commands",
          .enabled("needs python3 with PyYAML", ComposeTools.hasPyYAML))
    func committedMatchesGenerator() async throws {
        let t = try ComposeTools.topology("compose-demo.json")
        #expect(t.validate().isEmpty)
        let generated = try ComposeGenerator(topology: t, topologySource: "./topologies/compose-demo.json").generate()
        let root = try #require(try await ComposeTools.load(yaml: Harness.root + "/docker-compose.yml") as? [String: Any])
        #expect(root["version"] as? String == "3.8")
        let services = try #require(root["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == Set(generated.services.map(\.name)))
        for svc in generated.services {
            let committed = try #require(services[svc.name])
            #expect(committed["command"] as? [String] == svc.command, "\(svc.name): the committed command differs from the generator's")
            #expect(committed["entrypoint"] as? [String] == svc.entrypoint)
            #expect(committed["image"] as? String == "clustersim:latest")
            #expect(committed["init"] as? Bool == true)
            #expect(committed["dns"] as? [String] == ["127.0.0.1"], "\(svc.name): names outside the stack are not forwarded")
            #expect((committed["environment"] as? [String: String])?["RES_OPTIONS"] == "timeout:1 attempts:1",
                    "\(svc.name): a lookup that fails takes 1 s")
            let env = committed["environment"] as? [String: String]
            if svc.role == "orchestrator" {
                #expect(env?["CLUSTERSIM_CONTROL"] == nil)
            } else {
                #expect(env?["CLUSTERSIM_CONTROL"] == "tcp://orchestrator:5600", "\(svc.name) has no control endpoint")
            }
            let volumes = committed["volumes"] as? [String] ?? []
            #expect(volumes.contains("runs:/runs") == svc.mountsRuns, "\(svc.name): runs volume")
            let deploy = committed["deploy"] as? [String: Any]
            #expect((deploy?["replicas"] as? Int ?? 1) == svc.replicas, "\(svc.name): replicas")
            #expect(deploy?["endpoint_mode"] as? String == "dnsrr", "\(svc.name): a swarm without IPVS needs dnsrr")
            #expect(committed["depends_on"] as? [String] ?? [] == svc.dependsOn, "\(svc.name): depends_on")
        }
    }

    @Test("relays: each binds tcp://*:5560; readers behind a relay group subscribe to one relay, spread by index")
    func relays() throws {
        let t = try ComposeTools.topology("tree.json")
        let file = try ComposeGenerator(topology: t, topologySource: "./topologies/tree.json").generate()
        // Readers behind a group of two relays keep a service each (they are spread by index);
        // the direct group is replicated.
        #expect(file.services.map(\.name) == ["orchestrator"] + ComposeFileTests.expectedServices(t))
        #expect(file.service(named: "direct")?.replicas == 2)
        for (i, name) in ["relay-1", "relay-2"].enumerated() {
            let relay = try #require(file.service(named: name))
            #expect(relay.role == "relay")
            #expect(relay.command == ["relay", "--name", name, "--upstream", "tcp://writer:5555", "--bind", "tcp://*:5560",
                                      "--loss", "0.0", "--seed", "\(t.seed &+ UInt64(i + 1) &* 104_729)", "--delay", "5000000ns",
                                      "--max-message", "\(MessageLimits(topology: t).snapshotFrame)"])
            #expect(relay.dependsOn == ["orchestrator"])
        }
        func pub(_ name: String) throws -> String? {
            let c = try #require(file.service(named: name)).command
            return c.firstIndex(of: "--pub").map { c[$0 + 1] }
        }
        #expect(try pub("cli-1") == "tcp://relay-1:5560")
        #expect(try pub("cli-2") == "tcp://relay-2:5560")
        #expect(try pub("cli-3") == "tcp://relay-1:5560")
        #expect(try pub("log-2") == "tcp://relay-2:5560")
        #expect(try pub("direct") == "tcp://writer:5555")
        // Snapshots always come from the writer.
        #expect(try #require(file.service(named: "cli-2")).command.contains("tcp://writer:5556"))
        #expect(try #require(file.service(named: "cli-2")).dependsOn == ["orchestrator"])
    }

    @Test("tree.json: docker-compose config accepts the generated file with its relays",
          .enabled(if: ComposeTools.hasDockerCompose, "docker-compose is not on PATH (scripts/setup.sh installs it)"))
    func relaysValidate() async throws {
        let t = try ComposeTools.topology("tree.json")
        let dir = Harness.tempDirectory("compose-tree")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tree.yml"
        try ComposeGenerator(topology: t, topologySource: Harness.root + "/topologies/tree.json", image: "clustersim:test")
            .generate().yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let check = try await ComposeTools.compose(path, ["config", "-q"])
        #expect(check.status == 0, "docker-compose config -q: \(check.stderr)")
    }

    @Test("a node named like the orchestrator's service is refused")
    func reservedName() throws {
        let t = try TopologyLoader.parse(Data("""
            { "name": "clash", "writer": { "rate": 10 }, "readers": [ { "role": "cli", "name": "orchestrator" } ] }
            """.utf8), file: "clash.json")
        #expect(throws: ComposeError.self) {
            try ComposeGenerator(topology: t, topologySource: "clash.json").generate()
        }
    }

    @Test("a writer event script becomes a file beside the compose file, given to the writer as a config")
    func writerScript() throws {
        let t = try TopologyLoader.parse(Data("""
            { "name": "scripted", "duration": "5s", "writer": { "rate": 10, "persist": true,
                "events": [ { "at": "1s", "event": "activate" }, { "at": "2s", "event": "fail" } ] },
              "readers": [ { "role": "cli" } ] }
            """.utf8), file: "scripted.json")
        let file = try ComposeGenerator(topology: t, topologySource: "./scripted.json", image: "x").generate()
        let writer = try #require(file.service(named: "writer"))
        #expect(writer.command.suffix(4) == ["--state-dir", "/runs/nodes/writer/state", "--script", "/config/writer-events.json"])
        #expect(writer.configs.map(\.source) == ["writer-events"] && writer.configs.map(\.target) == ["/config/writer-events.json"])
        #expect(file.configs.map(\.name) == ["topology", "writer-events"])
        #expect(file.configs.map(\.file) == ["./scripted.json", "./scripted.writer-events.json"])
        #expect(writer.mountsRuns)
        let data = try #require(file.extraFiles["scripted.writer-events.json"])
        let events = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: String]])
        #expect(events == [["at": "1s", "event": "activate"], ["at": "2s", "event": "fail"]])
    }

    @Test("orchestrator compose writes --out or prints the file; bad input exits 2 with the reason",
          .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
    func command() async throws {
        let dir = Harness.root + "/.build/compose-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/demo.yml"
        let r = try await Harness.run(Harness.orchestrator, ["compose", Harness.root + "/topologies/compose-demo.json", "--out", out],
                                      timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains(#"source: "\#(Harness.root)/topologies/compose-demo.json""#), "outside the output's directory: absolute")
        #expect(text.contains(#"context: "\#(FileManager.default.currentDirectoryPath)""#) || text.contains(#"context: ".""#))

        let printed = try await Harness.run(Harness.orchestrator, ["compose", Harness.root + "/topologies/100-readers.json", "--image", "clustersim:1"],
                                            timeout: 60)
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains(#"image: "clustersim:1""#) && !printed.stdout.contains("build:"))
        #expect(printed.stdout.contains("\n  cli:\n") && printed.stdout.contains("replicas: 79"))

        let clash = dir + "/clash.json"
        try #"{ "name": "clash", "writer": { "rate": 10 }, "readers": [ { "role": "cli", "name": "orchestrator" } ] }"#
            .write(toFile: clash, atomically: true, encoding: .utf8)
        let refused = try await Harness.run(Harness.orchestrator, ["compose", clash], timeout: 60)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("node \"orchestrator\": the name is taken by the orchestrator's service"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)

        // A nice value below 0 cannot be taken in a container; a positive one passes through.
        let nice = dir + "/nice.json"
        try #"{ "name": "nice", "writer": { "rate": 10, "nice": 5 }, "readers": [ { "role": "cli", "count": 2 }, { "role": "log", "nice": -3 } ] }"#
            .write(toFile: nice, atomically: true, encoding: .utf8)
        let lowered = try await Harness.run(Harness.orchestrator, ["compose", nice], timeout: 60)
        #expect(lowered.status == 2)
        #expect(lowered.stderr.contains(#"readers[1].nice (group "log") is -3: in a container the nodes run as uid 10001"#), "\(lowered.stderr)")
        try #"{ "name": "nice", "writer": { "rate": 10, "nice": 5 }, "readers": [ { "role": "cli", "count": 2, "nice": 10 } ] }"#
            .write(toFile: nice, atomically: true, encoding: .utf8)
        let raised = try await Harness.run(Harness.orchestrator, ["compose", nice, "--image", "clustersim:1"], timeout: 60)
        #expect(raised.status == 0, "\(raised.stderr)")
        #expect(raised.stdout.contains(#""--nice", "5""#) && raised.stdout.contains(#""--nice", "10""#), "\(raised.stdout)")

        let missing = try await Harness.run(Harness.orchestrator, ["compose", dir + "/none.json"], timeout: 60)
        #expect(missing.status == 2 && missing.stderr.contains("no such file"), "\(missing.stderr)")
    }

    @Test("relative paths: beneath the compose file's directory stay relative, others become absolute")
    func relativePaths() {
        #expect(ComposeGenerator.relativePath("/a/b/topologies/x.json", from: "/a/b") == "./topologies/x.json")
        #expect(ComposeGenerator.relativePath("/a/b", from: "/a/b/") == ".")
        #expect(ComposeGenerator.relativePath("/a/c/x.json", from: "/a/b") == "/a/c/x.json")
        #expect(ComposeGenerator.relativePath("/a/bc/x.json", from: "/a/b") == "/a/bc/x.json")
    }
}
