import ArgumentParser
import ClusterCore
import ClusterOrchestrator
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Compose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a docker compose file (version 3.8) that runs a topology as one container per node.",
        discussion: """
            The orchestrator runs in a container of its own with the external launcher; every
            node registers with it under its topology name. Run from the repository root:

              orchestrator compose topologies/100-readers.json --out compose-100.yml
              docker compose -f compose-100.yml up

            With --image the file builds nothing; with --swarm as well, its files are swarm
            configs rather than bind mounts, and it deploys unchanged on a swarm of several
            hosts (`docker stack deploy -c FILE NAME`). `orchestrator run --launcher compose`
            (or swarm) generates, runs, collects and removes such a file itself.

            A topology with "security": {"mode": "curve"} needs --out: its key pairs go in
            <topology>.keys/ beside the file (mode 0700, new ones each time), and each service
            mounts its own as a secret (the replicas of a cli or log group share the group's).
            See docs/containers.md and docs/security.md ("Containers").
            """)

    @Argument(help: "The topology file (JSON).") var topology: String
    @Option(help: "Write the compose file here instead of standard output.") var out: String?
    @Option(help: "Use this image for every service and build nothing (default: build clustersim:latest from the working directory).")
    var image: String?
    @Flag(help: "Write the file for `docker stack deploy`: the topology and other files as swarm configs, no host path (needs --image).")
    var swarm = false

    func validate() throws {
        if swarm && image == nil { throw ValidationError("--swarm needs --image: a swarm builds nothing") }
    }

    func run() throws {
        do {
            let t = try TopologyLoader.load(path: topology)
            let issues = t.validate()
            if !issues.isEmpty { throw TopologyError(file: topology, issues: issues) }
            let cwd = FileManager.default.currentDirectoryPath
            let directory = out.map { ($0 as NSString).deletingLastPathComponent }.map { $0.isEmpty ? "." : $0 } ?? cwd
            var invocation = "orchestrator compose \(topology)"
            if let out { invocation += " --out \(out)" }
            if let image { invocation += " --image \(image)" }
            if swarm { invocation += " --swarm" }
            let generator = ComposeGenerator(
                topology: t, topologySource: ComposeGenerator.relativePath(topology, from: directory), image: image,
                buildContext: ComposeGenerator.relativePath(cwd, from: directory), invocation: invocation, forSwarm: swarm)
            let file = try generator.generate()
            for w in file.warnings {
                FileHandle.standardError.write(Data("orchestrator compose: note: \(w)\n".utf8))
            }
            guard let out else {
                if !file.extraFiles.isEmpty {
                    throw ComposeError(.needsDirectory, "the writer's event script goes in a file beside the compose file; give --out")
                }
                if file.keysDirectory != nil {
                    throw ComposeError(.needsDirectory, "security.mode curve: the key pairs go in a directory beside the compose file; give --out")
                }
                print(file.yaml, terminator: "")
                return
            }
            for (name, data) in file.extraFiles {
                try data.write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(name)))
            }
            if let keys = try file.writeKeys(in: directory) {
                var note = "\(keys): \(file.keyHolders.count + 1) CURVE key pairs (secrets: keep the directory to yourself)"
                if geteuid() != 0 && !swarm {
                    note += "; compose mounts them as they are, so the image's user must own them: "
                        + "sudo chown -R \(ComposeGenerator.imageUser) \(keys) (or write the file as root)"
                }
                FileHandle.standardError.write(Data((note + "\n").utf8))
            }
            try Data(file.yaml.utf8).write(to: URL(fileURLWithPath: out))
            let containers = file.services.map(\.replicas).reduce(0, +)
            FileHandle.standardError.write(Data("\(out): \(file.services.count) services, \(containers) containers\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("orchestrator compose: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
