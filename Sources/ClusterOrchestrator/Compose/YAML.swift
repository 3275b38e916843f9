/// A YAML value, as much of YAML as a compose file needs.
///
/// Emitted by hand (no YAML dependency): every string scalar is written
/// double-quoted with escapes, so no value can turn into a number, a boolean
/// (`yes`, `no`, `on`), a null, a comment, an anchor or a nested structure.
public indirect enum YAMLValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([YAMLValue])
    case map([YAMLEntry])
    /// A reference to an anchored value: `*name`.
    case alias(String)
}

/// One key of a YAML mapping.
public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var value: YAMLValue
    /// Puts `&anchor` on the value so that `.alias(anchor)` can refer to it.
    public var anchor: String?

    public init(_ key: String, _ value: YAMLValue, anchor: String? = nil) {
        self.key = key
        self.value = value
        self.anchor = anchor
    }
}

/// The YAML emitter.
public enum YAML {
    /// `s` as a double-quoted YAML scalar that reads back as exactly `s`
    /// under YAML 1.1 and 1.2 parsers.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            default:
                let v = scalar.value
                // C0 and C1 controls, DEL, NEL, the line and paragraph separators and the BOM: escaped.
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
                    out += "\\u" + String(format: "%04X", v)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Words YAML 1.1 reads as booleans or null when plain.
    static let specialWords: Set<String> = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"]

    /// A mapping key: plain when it is an identifier that no parser reads as
    /// anything but a string (`services`, `log-1`), otherwise quoted.
    public static func key(_ s: String) -> String {
        if s == "<<" { return s }  // the merge key
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
              s.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }),
              !specialWords.contains(s.lowercased())
        else { return quoted(s) }
        return s
    }

    /// Renders a document: optional comment lines, then the top-level mapping.
    public static func render(_ entries: [YAMLEntry], header: [String] = []) -> String {
        var lines = header.map { "# " + $0.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") }
        for (i, e) in entries.enumerated() {
            if i > 0 || !lines.isEmpty { lines.append("") }  // a blank line between top-level sections
            lines += renderMap([e], indent: 0)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func scalar(_ v: YAMLValue) -> String? {
        switch v {
        case .string(let s): quoted(s)
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .alias(let a): "*" + a
        case .list(let l) where l.isEmpty: "[]"
        case .map(let m) where m.isEmpty: "{}"
        case .list, .map: nil
        }
    }

    static func renderMap(_ entries: [YAMLEntry], indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        for e in entries {
            let head = pad + key(e.key) + ":" + (e.anchor.map { " &" + $0 } ?? "")
            if let s = scalar(e.value) {
                lines.append(head + " " + s)
            } else if let flow = flowList(e.value, first: head.count + 1, indent: indent + 4) {
                lines.append(head + " " + flow)
            } else {
                lines.append(head)
                lines += renderBlock(e.value, indent: indent + 2)
            }
        }
        return lines
    }

    /// Column at which a flow list is wrapped.
    static let width = 100

    /// A non-empty list of scalars in flow style, `["a", "b"]`, wrapped at
    /// ``width`` onto lines indented by `indent`; nil for any other value.
    static func flowList(_ v: YAMLValue, first column: Int, indent: Int) -> String? {
        guard case .list(let items) = v, !items.isEmpty else { return nil }
        let parts = items.compactMap(scalar)
        guard parts.count == items.count else { return nil }
        var out = "["
        var col = column + 1
        for (i, p) in parts.enumerated() {
            let piece = p + (i == parts.count - 1 ? "]" : ",")
            if i > 0 {
                if col + 1 + piece.count > width {
                    out += "\n" + String(repeating: " ", count: indent)
                    col = indent
                } else {
                    out += " "
                    col += 1
                }
            }
            out += piece
            col += piece.count
        }
        return out
    }

    /// A non-empty list or map, as block lines at `indent`.
    static func renderBlock(_ v: YAMLValue, indent: Int) -> [String] {
        switch v {
        case .map(let m):
            return renderMap(m, indent: indent)
        case .list(let items):
            let pad = String(repeating: " ", count: indent)
            var lines: [String] = []
            for item in items {
                if let s = scalar(item) {
                    lines.append(pad + "- " + s)
                } else {
                    // Render the nested block two columns in, then put the dash on its first line.
                    var inner = renderBlock(item, indent: indent + 2)
                    inner[0] = pad + "- " + inner[0].dropFirst(indent + 2)
                    lines += inner
                }
            }
            return lines
        default:
            return [String(repeating: " ", count: indent) + (scalar(v) ?? "")]
        }
    }
}
