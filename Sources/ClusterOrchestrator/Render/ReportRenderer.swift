/// Renders a run's `report.json` model as the text summary and the HTML report.
///
/// Both are pure functions of the `RunReport`: the same report always renders
/// to the same bytes, so `orchestrator report RUN_DIR` can render them again.
public enum ReportRenderer {
    /// summary.txt: the terminal table printed at the end of a run.
    public static func summaryText(_ r: RunReport) -> String {
        SummaryText(r).render()
    }

    /// report.html: one self-contained file that opens offline (inline CSS and
    /// SVG charts, no external references; a few lines of optional JS sort tables).
    public static func html(_ r: RunReport) -> String {
        HTMLReport(r).render()
    }
}
