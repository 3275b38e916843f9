import ArgumentParser
import ClusterOrchestrator
import ClusterProcess
import Foundation

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a topology at several values of one or two of its settings, or search for the highest value at which its SLOs hold.",
        discussion: """
            Examples (T is a topology file, e.g. topologies/10-readers.json):
              orchestrator sweep T --vary writer.rate=1000..16000*2 --repeat 2
              orchestrator sweep T --vary writer.rate=2000,5000,10000 \\
                  --vary readers[0].count=5,10,20
              orchestrator sweep T --vary readers[0].policy=drop,conflate,resync
              orchestrator sweep T --find-max writer.rate --tolerance 5%

            A path names a value in the topology file (docs/topology.md): writer.rate, readers[0].count, slo.p99LatencyMs. Values: a list (1000,2000,5000 or drop,conflate), a geometric range START..END*FACTOR (1000..16000*2) or an arithmetic one START..END+STEP (10..100+10).

            Every point is an ordinary run (`orchestrator run`) in sweeps/<name>-<time>/, which also holds sweep.json, sweep.html and summary.txt. Ctrl-C stops the current run and writes the points done. See docs/capacity.md.

            Exit status: 0 a knee was found, or some point met every SLO in every run; 1 no point did; 2 bad input, an interrupted sweep, or runs that all failed.
            """)

    @Argument(help: "The topology file (JSON), e.g. topologies/10-readers.json.")
    var topology: String
    @Option(name: .customLong("vary"), help: ArgumentHelp("A parameter and its values: PATH=VALUES, e.g. writer.rate=1000..16000*2, readers[0].count=10,50,100, readers[0].policy=drop,conflate. At most two; the first is the x axis.", valueName: "path=values"))
    var vary: [String] = []
    @Option(help: ArgumentHelp("Search for the highest value of this path at which every SLO holds (doubling, then bisecting), e.g. writer.rate or readers[0].count.", valueName: "path"))
    var findMax: String?
    @Option(name: .customLong("repeat"), help: "Runs per point (default 1); not with --find-max.")
    var repeats: Int?
    @Option(help: ArgumentHelp("With --find-max: when a probed value passes, K of N runs meeting the SLOs, in stages (default 3/3,5/6).", valueName: "k/n[,k/n…]"))
    var probe: String?
    @Option(help: "With --find-max: stop when the failing value is within this of the passing one: a percentage (5%, the default) or an absolute width.")
    var tolerance: String?
    @Option(help: "With --find-max: the first value probed (default: the topology's).")
    var from: String?
    @Option(help: "With --find-max: the highest value probed (default: 1024 × the first).")
    var max: String?
    @Option(help: "Override every point's measured phase, e.g. 3s.") var duration: String?
    @Option(help: "Override every point's seed.") var seed: UInt64?
    @Option(help: "Directory the sweep directory is created in.") var out = "sweeps"
    @Option(help: "The cluster-node executable, passed on to every run (default: beside this one, or CLUSTERSIM_NODE_BINARY).")
    var nodeBinary: String?
    @Flag(help: "No progress output; the table is still printed.") var quiet = false

    func run() throws {
        // First, before any thread exists: SIGINT and SIGTERM become readable events.
        let signals = ShutdownSignals()
        var o = SweepOptions(topologyPath: topology)
        o.vary = vary
        o.findMax = findMax
        o.repeats = repeats
        o.probe = probe
        o.tolerance = tolerance
        o.from = from
        o.max = max
        o.duration = duration
        o.seed = seed
        o.outDirectory = out
        o.quiet = quiet
        o.nodeBinary = nodeBinary
        do {
            let plan = try SweepPlan.make(o)
            let runner = ChildRunRunner(orchestrator: ChildRunRunner.currentExecutable(fallback: CommandLine.arguments[0]),
                                        nodeBinary: nodeBinary, signals: signals)
            let sweeper = try Sweeper(plan: plan, runner: runner, outDirectory: out, quiet: quiet)
            let report = sweeper.run()
            print(SweepRenderer.text(report), terminator: "")
            throw ExitCode(report.exitStatus)
        } catch let e as SweepError {
            FileHandle.standardError.write(Data("\(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}
