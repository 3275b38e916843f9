import Foundation

/// Writes report.json, summary.txt and report.html into a run directory.
public enum ReportWriter {
    /// Writes the three files of `report` into `dir`.
    /// - Throws: the file system's error for the first file that cannot be written.
    public static func write(_ report: RunReport, to dir: String) throws {
        try report.jsonData().write(to: URL(fileURLWithPath: dir + "/report.json"))
        try Data(summary(report).utf8).write(to: URL(fileURLWithPath: dir + "/summary.txt"))
        try Data(ReportRenderer.html(report).utf8).write(to: URL(fileURLWithPath: dir + "/report.html"))
    }

    /// The summary table, as summary.txt holds it and `orchestrator run` prints it.
    public static func summary(_ report: RunReport) -> String {
        ReportRenderer.summaryText(report)
    }
}
