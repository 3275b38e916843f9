import Foundation

/// A path to a value in a topology file, as the errors print it:
/// `writer.rate`, `readers[0].count`, `slo.perRole.query.p99Ms`.
///
/// Keys are separated by dots; an array element is its index in brackets.
/// `orchestrator sweep --vary` and `--find-max` name the value they change
/// with one.
public struct TopologyPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public let components: [Component]

    public init(_ components: [Component]) {
        precondition(!components.isEmpty, "a topology path has at least one component")
        if case .index = components[0] { preconditionFailure("a topology path starts with a key") }
        self.components = components
    }

    /// Parses `writer.rate` or `readers[0].count`.
    /// - Throws: ``TopologyPathError`` saying where the text stops being a path.
    public init(parsing text: String) throws(TopologyPathError) {
        var components: [Component] = []
        let chars = Array(text)
        var i = 0
        func fail(_ what: String) -> TopologyPathError {
            TopologyPathError(text: text, message: what)
        }
        func isKeyStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
        func isKeyPart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        guard !chars.isEmpty else { throw fail("the path is empty") }
        while i < chars.count {
            if components.isEmpty || chars[i] == "." {
                if !components.isEmpty { i += 1 }
                guard i < chars.count, isKeyStart(chars[i]) else {
                    let found = i < chars.count ? "'\(chars[i])'" : "the end"
                    throw fail("found \(found) at character \(i + 1), expected a key (letters, digits and _, not starting with a digit)")
                }
                var key = ""
                while i < chars.count, isKeyPart(chars[i]) { key.append(chars[i]); i += 1 }
                components.append(.key(key))
            } else if chars[i] == "[" {
                i += 1
                var digits = ""
                while i < chars.count, chars[i].isASCII, chars[i].isNumber { digits.append(chars[i]); i += 1 }
                guard !digits.isEmpty, i < chars.count, chars[i] == "]", let index = Int(digits), index <= 1_000_000 else {
                    throw fail("found an index that is not a whole number in brackets at character \(i + 1), expected e.g. [0]")
                }
                i += 1
                components.append(.index(index))
            } else {
                throw fail("found '\(chars[i])' at character \(i + 1), expected '.' or '[' between the parts of a path")
            }
        }
        self.components = components
    }

    public var description: String {
        var out = ""
        for c in components {
            switch c {
            case .key(let k): out += out.isEmpty ? k : ".\(k)"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    /// The path of the first `count` components.
    func prefix(_ count: Int) -> String {
        TopologyPath(Array(components.prefix(count))).description
    }
}

/// Text that is not a topology path.
public struct TopologyPathError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as given.
    public let text: String
    /// What was found and what was expected.
    public let message: String

    public var description: String {
        "\"\(text)\" is not a path in a topology: \(message); paths look like writer.rate or readers[0].count"
    }
}

/// A scalar value to put into a topology file.
public enum TopologyValue: Sendable, Hashable, CustomStringConvertible {
    /// A JSON number, kept as its text.
    case number(String)
    case string(String)
    case bool(Bool)

    /// Reads a value as given on a command line: a JSON number (`5000`, `0.5`,
    /// `1e3`), `true` or `false`, a string in double quotes (`"123"`, to make
    /// a number a string), or else the text itself as a string (`drop`, `2s`).
    public init(commandLine text: String) {
        if text == "true" {
            self = .bool(true)
        } else if text == "false" {
            self = .bool(false)
        } else if TopologyValue.isJSONNumber(text) {
            self = .number(text)
        } else if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            self = .string(String(text.dropFirst().dropLast()))
        } else {
            self = .string(text)
        }
    }

    /// The number's value; nil for strings and booleans.
    public var number: Double? {
        if case .number(let n) = self { return Double(n) }
        return nil
    }

    /// As a command line gives it: numbers and strings bare, booleans as `true`/`false`.
    public var description: String {
        switch self {
        case .number(let n): n
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        }
    }

    /// How the value reads in a message: `a string ("drop")`, `a number (5000)`, `a boolean (true)`.
    public var found: String { node.found }

    /// Whether `text` is a number as JSON writes it (RFC 8259 §6).
    public static func isJSONNumber(_ text: String) -> Bool {
        var parser = JSONParser(Array(text.utf8))
        guard let node = try? parser.parseDocument(), case .number = node.value else { return false }
        return true
    }

    var node: JSONNode {
        switch self {
        case .number(let n): JSONNode(.number(n))
        case .string(let s): JSONNode(.string(s))
        case .bool(let b): JSONNode(.bool(b))
        }
    }
}

/// A topology file as JSON that can be changed at a path and written back,
/// keeping its keys in file order and its numbers as written.
///
/// `orchestrator sweep` makes each point's topology with one: it sets the
/// varied values, writes the JSON, and validates it with
/// ``TopologyLoader/parse(_:file:)`` like any topology file.
public struct TopologyDocument: Sendable {
    /// The name errors use for the file.
    public let file: String
    var root: JSONNode

    /// Parses JSON text; only its syntax is checked here.
    /// - Throws: ``TopologyError`` for an empty file or invalid JSON (with line and column).
    public init(data: Data, file: String) throws(TopologyError) {
        self.file = file
        var parser = JSONParser(Array(data))
        if parser.isBlank {
            throw TopologyError(file: file, issues: [
                TopologyIssue(path: "", message: "the file is empty, expected a JSON object describing a topology"),
            ])
        }
        do {
            root = try parser.parseDocument()
        } catch {
            throw TopologyError(file: file, issues: [
                TopologyIssue(path: "", message: "line \(error.line), column \(error.column): invalid JSON: \(error.message)"),
            ])
        }
    }

    /// The scalar at `path`; nil when the file does not have it or it is an object, an array or null.
    public func value(at path: TopologyPath) -> TopologyValue? {
        var node = root
        for c in path.components {
            switch (c, node.value) {
            case (.key(let k), .object(let members)):
                guard let m = members.last(where: { $0.key == k }) else { return nil }
                node = m.value
            case (.index(let i), .array(let elements)):
                guard i < elements.count else { return nil }
                node = elements[i]
            default:
                return nil
            }
        }
        switch node.value {
        case .number(let n): return .number(n)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .null, .array, .object: return nil
        }
    }

    /// Sets the value at `path`. A missing key is added (with the objects
    /// leading to it); array elements must exist. Whether the key and value
    /// make sense is for ``TopologyLoader/parse(_:file:)`` to say.
    /// - Throws: ``TopologyError`` naming the file and the part of the path
    ///   that does not fit the document: an index past the end, a key inside
    ///   something that is not an object.
    public mutating func set(_ path: TopologyPath, to value: TopologyValue) throws(TopologyError) {
        try Self.set(&root, path.components[...], value.node, path: path, depth: 0, file: file)
    }

    private static func set(_ node: inout JSONNode, _ rest: ArraySlice<TopologyPath.Component>, _ value: JSONNode,
                            path: TopologyPath, depth: Int, file: String) throws(TopologyError) {
        guard let first = rest.first else {
            node = value
            return
        }
        func fail(_ message: String) -> TopologyError {
            TopologyError(file: file, issues: [TopologyIssue(path: path.prefix(depth + 1), message: message)])
        }
        let here = depth == 0 ? "the top level" : path.prefix(depth)
        switch (first, node.value) {
        case (.key(let k), .object(var members)):
            if let i = members.lastIndex(where: { $0.key == k }) {
                try set(&members[i].value, rest.dropFirst(), value, path: path, depth: depth + 1, file: file)
            } else {
                var child = JSONNode(.object([]))
                try set(&child, rest.dropFirst(), value, path: path, depth: depth + 1, file: file)
                members.append((key: k, value: child))
            }
            node.value = .object(members)
        case (.index(let i), .array(var elements)):
            guard i < elements.count else {
                let array = path.prefix(depth)
                let have = elements.isEmpty ? "it is empty"
                    : "it has \(elements.count) element\(elements.count == 1 ? "" : "s") (\(array)[0]\(elements.count > 1 ? " ... \(array)[\(elements.count - 1)]" : ""))"
                throw fail("index \(i) is past the end of \(path.prefix(depth)): \(have)")
            }
            try set(&elements[i], rest.dropFirst(), value, path: path, depth: depth + 1, file: file)
            node.value = .array(elements)
        case (.key, _):
            throw fail("\(here) is \(node.found), expected an object to hold the key")
        case (.index, _):
            throw fail("\(here) is \(node.found), expected an array to index")
        }
    }

    /// The document as pretty JSON (two-space indents, keys in file order, numbers as written).
    public func jsonData() -> Data {
        var out = ""
        Self.render(root, indent: "", into: &out)
        out += "\n"
        return Data(out.utf8)
    }

    private static func render(_ node: JSONNode, indent: String, into out: inout String) {
        switch node.value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): out += jsonString(s)
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, e) in elements.enumerated() {
                out += indent + "  "
                render(e, indent: indent + "  ", into: &out)
                out += i + 1 < elements.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (i, m) in members.enumerated() {
                out += indent + "  " + jsonString(m.key) + ": "
                render(m.value, indent: indent + "  ", into: &out)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += indent + "}"
        }
    }

    /// `s` as a JSON string literal.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses and validates the document as a topology.
    /// - Throws: ``TopologyError`` with every problem, as ``TopologyLoader/parse(_:file:)`` reports them.
    public func topology() throws -> Topology {
        try TopologyLoader.parse(jsonData(), file: file)
    }
}
