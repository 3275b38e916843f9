/// One problem in a topology: where it is and what is wrong.
public struct TopologyIssue: Sendable, Hashable, CustomStringConvertible {
    /// JSON path such as `readers[2].policy`; empty for the file as a whole.
    public let path: String
    /// What was found and what was expected.
    public let message: String

    /// Control characters in either (from names and keys in the file) are
    /// escaped, so that an issue is always one line of a report.
    public init(path: String, message: String) {
        self.path = Self.oneLine(path)
        self.message = Self.oneLine(message)
    }

    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\u" + String(format4: scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `path: message`, or just the message when the path is empty.
    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }
}

/// Every problem found in a topology file, reported at once.
///
/// Its description has one line per issue:
/// `topologies/x.json: readers[2].policy: "dorp" is not one of drop, conflate, resync, snail`.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    /// The file as it was named to the loader.
    public let file: String
    /// At least one issue, in file order, then cross-checks.
    public let issues: [TopologyIssue]

    public init(file: String, issues: [TopologyIssue]) {
        self.file = file
        self.issues = issues
    }

    /// The most issues a description lists; the rest are counted.
    public static let maxListed = 50

    public var description: String {
        var lines = issues.prefix(Self.maxListed).map { "\(file): \($0)" }
        if issues.count > Self.maxListed {
            lines.append("\(file): … and \(issues.count - Self.maxListed) more problems (the first \(Self.maxListed) are listed)")
        }
        return lines.joined(separator: "\n")
    }
}
