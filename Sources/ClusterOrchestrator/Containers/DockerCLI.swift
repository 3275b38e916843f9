import Foundation

/// The Docker engine, through its command-line client (`docker`, and
/// `docker-compose` for compose projects), each call bounded in time.
struct DockerCLI: Sendable {
    /// The `docker` executable.
    let docker: String
    /// What the client needs of the caller's environment (where the engine is, its configuration).
    let environment: [String: String]

    /// - Parameter environment: the caller's; `HOME`, `DOCKER_HOST`, `DOCKER_CONFIG` and
    ///   `DOCKER_CONTEXT` are passed on.
    init?(environment: [String: String]) {
        guard let docker = SystemCommand.locate("docker") else { return nil }
        self.docker = docker
        self.environment = environment.filter { ["HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"].contains($0.key) }
    }

    /// Runs `docker ARGS…`.
    func run(_ arguments: [String], timeout: Duration = .seconds(30)) -> SystemCommand.Outcome {
        SystemCommand.run([docker] + arguments, timeout: timeout, environment: environment)
    }

    /// Runs `docker ARGS…` for each of `arguments`, side by side.
    func runAll(_ arguments: [[String]], timeout: Duration = .seconds(30)) -> [SystemCommand.Outcome] {
        SystemCommand.runAll(arguments.map { [docker] + $0 }, timeout: timeout, environment: environment)
    }

    /// Runs `docker-compose ARGS…` (compose v1; `docker compose` is not on every machine).
    func compose(_ arguments: [String], timeout: Duration) -> SystemCommand.Outcome {
        SystemCommand.run(["docker-compose"] + arguments, timeout: timeout, environment: environment)
    }

    /// The output's first line, trimmed, when the command succeeded.
    func value(_ arguments: [String]) -> String? {
        let r = run(arguments)
        guard r.ok else { return nil }
        return r.output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// What the engine says of a container.
    struct ContainerState: Sendable, Hashable {
        var id: String
        /// Its main process on this host; 0 when it does not run.
        var pid: Int32
        /// `created`, `running`, `paused`, `restarting`, `exited`, `dead`.
        var status: String
        var exitCode: Int32
    }

    /// The state of the container `name` (a name, an id or an id prefix); nil when the engine has none.
    func state(_ name: String) -> ContainerState? {
        guard let line = value(["inspect", "-f", "{{.Id}} {{.State.Pid}} {{.State.Status}} {{.State.ExitCode}}", name]) else { return nil }
        let f = line.split(separator: " ").map(String.init)
        guard f.count == 4, let pid = Int32(f[1]), let code = Int32(f[3]) else { return nil }
        return ContainerState(id: f[0], pid: pid, status: f[2], exitCode: code)
    }

    /// The container's IPv4 addresses on its networks.
    func addresses(_ name: String) -> [String] {
        let r = run(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name])
        guard r.ok else { return [] }
        return r.output.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init).filter { !$0.isEmpty }
    }
}
