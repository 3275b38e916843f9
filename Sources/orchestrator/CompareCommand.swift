import ArgumentParser
import ClusterOrchestrator
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two runs (or two sweeps) figure by figure, with a statistical verdict per row.",
        discussion: """
            Examples:
              orchestrator compare runs/A runs/B
              orchestrator compare sweeps/A sweeps/B --fail-on worse --html c.html

            For each reader role, all fast readers and the writer: p50, p99, p99.9, max, loss, skipped, CPU and RSS of A and B, the change, its 95 % bootstrap interval (over the per-second series and the per-reader figures; over the runs too when a sweep point has several) and a verdict: better or worse only when the whole interval lies beyond the threshold. Runs of different settings are compared with a warning listing what differs. See docs/capacity.md.

            Exit status: 0, or 1 with --fail-on worse when a row is worse; 2 for bad input.
            """)

    enum FailOn: String, ExpressibleByArgument, CaseIterable {
        case worse
    }

    @Argument(help: "Side A: a run directory (runs/<name>-<time>) or a sweep directory.") var a: String
    @Argument(help: "Side B, of the same kind as A.") var b: String
    @Option(help: "The smallest change worth reporting, a percentage (between two runs of one topology on a shared 2-core machine, p50 alone moved by up to a third).") var threshold = "20%"
    @Option(help: "Exit 1 when a row is significantly worse (for CI).") var failOn: FailOn?
    @Option(help: "Also write the comparison as a self-contained HTML page.") var html: String?
    @Option(help: "Also write the comparison as JSON.") var json: String?

    func validate() throws {
        guard Self.fraction(threshold) != nil else {
            throw ValidationError("--threshold \(threshold): expected a percentage of 0 or more, such as 10% or 2.5%")
        }
    }

    /// "10%" or "10" → 0.1.
    static func fraction(_ text: String) -> Double? {
        let t = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let v = Double(t.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0, v < 1_000 else { return nil }
        return v / 100
    }

    func run() throws {
        do {
            let comparison = try Comparison.make(a, b, comparer: Comparer(threshold: Self.fraction(threshold) ?? 0.2))
            print(CompareRenderer.text(comparison), terminator: "")
            if let html {
                try Data(CompareRenderer.html(comparison).utf8).write(to: URL(fileURLWithPath: html))
                print("html: \(html)")
            }
            if let json {
                try comparison.jsonData().write(to: URL(fileURLWithPath: json))
                print("json: \(json)")
            }
            if failOn == .worse, comparison.worse > 0 { throw ExitCode(1) }
        } catch let e as SweepError {
            FileHandle.standardError.write(Data("orchestrator compare: \(e)\n".utf8))
            throw ExitCode(2)
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("orchestrator compare: \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
    }
}
