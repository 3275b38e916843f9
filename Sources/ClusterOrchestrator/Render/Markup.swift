/// Escaping for text placed in HTML or SVG: element content and quoted attribute values alike.
enum Markup {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline are not allowed in HTML or XML text.
                if c.value < 0x20, c != "\t", c != "\n" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}

/// A short name for `Markup.escape`, used throughout the HTML and SVG builders.
func esc(_ s: String) -> String { Markup.escape(s) }

/// A cell of a sortable table (report.html, sweep.html, compare.html).
struct TableCell {
    var text: String
    /// The value numeric columns sort on.
    var value: Double?
    var cls: String?
    /// A relative link.
    var href: String?

    init(_ text: String, _ value: Double? = nil, cls: String? = nil, href: String? = nil) {
        self.text = text
        self.value = value
        self.cls = cls
        self.href = href
    }
}

/// A sortable table: numeric columns right-aligned and sorted by their cells' values.
enum HTMLTable {
    static func render(_ id: String, _ columns: [(title: String, numeric: Bool)], _ rows: [[TableCell]],
                       scrolling: Bool = false) -> String {
        let head = columns.map { "<th\($0.numeric ? " class=\"num\"" : "")>\(esc($0.title))</th>" }.joined()
        let body = rows.map { row in
            "<tr>" + row.enumerated().map { i, c in
                var classes: [String] = []
                if i < columns.count, columns[i].numeric { classes.append("num") }
                if let k = c.cls { classes.append(k) }
                let cls = classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
                let v = c.value.map { " data-v=\"\($0.isFinite ? String($0) : "0")\"" } ?? ""
                let text = c.href.map { "<a href=\"\(esc($0))\">\(esc(c.text))</a>" } ?? esc(c.text)
                return "<td\(cls)\(v)>\(text)</td>"
            }.joined() + "</tr>"
        }.joined(separator: "\n")
        let table = "<table id=\"\(esc(id))\" class=\"sortable\"><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
        return scrolling ? "<div class=\"scroll\">\(table)</div>" : table
    }
}
