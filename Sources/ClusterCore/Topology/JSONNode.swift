/// A parsed JSON value that remembers where it was in the file and the order
/// of object keys, so topology errors can name positions and report problems
/// in file order.
struct JSONNode: Sendable {
    indirect enum Value: Sendable {
        case null
        case bool(Bool)
        /// A number kept as its text, so integers of any size read exactly.
        case number(String)
        case string(String)
        case array([JSONNode])
        case object([(key: String, value: JSONNode)])
    }

    var value: Value
    /// 1-based line and column of the value's first character; 0 when not from text.
    var line: Int
    var column: Int

    init(_ value: Value, line: Int = 0, column: Int = 0) {
        self.value = value
        self.line = line
        self.column = column
    }

    /// How the value reads in a message: `a string ("10")`, `a number (1.5)`, `an object`.
    var found: String {
        switch value {
        case .null: "null"
        case .bool(let b): "a boolean (\(b))"
        case .number(let n): "a number (\(n))"
        case .string(let s): "a string (\(jsonQuoted(s)))"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// `text` in double quotes, escaped as JSON would, shortened when long.
func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars.prefix(60) {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += "\\u" + String(format4: scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    if text.unicodeScalars.count > 60 { out += "…" }
    return out + "\""
}

extension String {
    init(format4 value: UInt32) {
        let hex = String(value, radix: 16)
        self = String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
    }
}

/// A syntax error in JSON text, with its 1-based position.
struct JSONSyntaxError: Error, Sendable {
    var line: Int
    var column: Int
    var message: String
}

/// A small strict JSON parser (RFC 8259) that records positions.
struct JSONParser {
    private let bytes: [UInt8]
    private var offset = 0
    private var line = 1
    private var lineStart = 0
    private static let maxDepth = 64

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte order mark is tolerated.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { offset = 3; lineStart = 3 }
    }

    /// True when the text holds nothing but whitespace.
    var isBlank: Bool {
        bytes[offset...].allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONNode {
        skipWhitespace()
        let node = try parseValue(depth: 0)
        skipWhitespace()
        if offset < bytes.count {
            throw error("found \(describeCurrent()) after the end of the document, expected nothing more")
        }
        return node
    }

    private var column: Int { offset - lineStart + 1 }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: column, message: message)
    }

    private func describeCurrent() -> String {
        guard offset < bytes.count else { return "the end of the file" }
        let byte = bytes[offset]
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "a space" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0D:
                offset += 1
            case 0x0A:
                offset += 1
                line += 1
                lineStart = offset
            default:
                return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
        guard offset < bytes.count else { throw error("found the end of the file, expected a value") }
        let (startLine, startColumn) = (line, column)
        let value: JSONNode.Value
        switch bytes[offset] {
        case UInt8(ascii: "{"): value = try parseObject(depth: depth)
        case UInt8(ascii: "["): value = try parseArray(depth: depth)
        case UInt8(ascii: "\""): value = .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); value = .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); value = .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); value = .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): value = .number(try parseNumber())
        default: throw error("found \(describeCurrent()), expected a value")
        }
        return JSONNode(value, line: startLine, column: startColumn)
    }

    private mutating func parseLiteral(_ word: String) throws(JSONSyntaxError) {
        let utf8 = Array(word.utf8)
        guard bytes.count - offset >= utf8.count, Array(bytes[offset..<offset + utf8.count]) == utf8 else {
            throw error("found \(describeCurrent()), expected a value")
        }
        offset += utf8.count
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        guard offset < bytes.count, bytes[offset] == byte else {
            throw error("found \(describeCurrent()), expected \(what)")
        }
        offset += 1
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONNode.Value {
        var members: [(key: String, value: JSONNode)] = []
        try parseElements(closing: "}", after: "a member") { (parser: inout JSONParser) throws(JSONSyntaxError) in
            guard parser.offset < parser.bytes.count, parser.bytes[parser.offset] == UInt8(ascii: "\"") else {
                throw parser.error("found \(parser.describeCurrent()), expected a key in double quotes")
            }
            let key = try parser.parseString()
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: ":"), "':' after the key")
            parser.skipWhitespace()
            members.append((key, try parser.parseValue(depth: depth + 1)))
        }
        return .object(members)
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONNode.Value {
        var elements: [JSONNode] = []
        try parseElements(closing: "]", after: "an element") { (parser: inout JSONParser) throws(JSONSyntaxError) in
            elements.append(try parser.parseValue(depth: depth + 1))
        }
        return .array(elements)
    }

    /// Parses `element, element, ...` and the closing bracket, from the opening bracket on.
    private mutating func parseElements(
        closing close: Unicode.Scalar, after what: String,
        _ element: (inout JSONParser) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        let closeByte = UInt8(ascii: close)
        offset += 1
        skipWhitespace()
        if offset < bytes.count && bytes[offset] == closeByte {
            offset += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            if offset < bytes.count && bytes[offset] == UInt8(ascii: ",") {
                offset += 1
                continue
            }
            try expect(closeByte, "',' or '\(close)' after \(what)")
            return
        }
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = offset
        func digits(_ parser: inout JSONParser) -> Int {
            let begin = parser.offset
            while parser.offset < parser.bytes.count,
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.offset]) {
                parser.offset += 1
            }
            return parser.offset - begin
        }
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        let integerDigits = digits(&self)
        guard integerDigits > 0 else { throw error("found \(describeCurrent()), expected a digit") }
        if integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0") {
            offset = integerStart + 1
            throw error("found a leading zero, expected a number without one")
        }
        if offset < bytes.count && bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw error("found \(describeCurrent()), expected a digit after '.'") }
        }
        if offset < bytes.count && (bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E")) {
            offset += 1
            if offset < bytes.count && (bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-")) {
                offset += 1
            }
            guard digits(&self) > 0 else { throw error("found \(describeCurrent()), expected a digit in the exponent") }
        }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        offset += 1
        var scalars = String.UnicodeScalarView()
        var run = offset
        // JSON text is UTF-8 (RFC 8259 §8.1): invalid bytes are an error, never replaced.
        func flush(_ parser: JSONParser, _ scalars: inout String.UnicodeScalarView) throws(JSONSyntaxError) {
            guard let text = String(validating: parser.bytes[run..<parser.offset], as: UTF8.self) else {
                throw parser.error("found bytes that are not UTF-8 in a string, expected UTF-8 text")
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard offset < bytes.count else { throw error("found the end of the file, expected '\"' to close the string") }
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                try flush(self, &scalars)
                offset += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush(self, &scalars)
                offset += 1
                scalars.append(try parseEscape())
                run = offset
            case 0x00..<0x20:
                throw error("found a control character in a string, expected it escaped")
            default:
                offset += 1
            }
        }
    }

    private mutating func parseEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        guard offset < bytes.count else { throw error("found the end of the file, expected an escape") }
        let byte = bytes[offset]
        offset += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try parseHex4()
            if (0xD800..<0xDC00).contains(high) {
                guard bytes.count - offset >= 2, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                else { throw error("found a lone surrogate, expected a \\u low surrogate to follow") }
                offset += 2
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("found an invalid low surrogate") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw error("found a lone surrogate in a \\u escape") }
            return scalar
        default:
            offset -= 1
            throw error("found \(describeCurrent()) after '\\', expected one of \" \\ / b f n r t u")
        }
    }

    private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard offset < bytes.count, let digit = hexValue(bytes[offset]) else {
                throw error("found \(describeCurrent()), expected a hex digit in a \\u escape")
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    private func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}

extension JSONNode: Decodable {
    /// Reads a value from any `Decoder`, so the topology types can be decoded
    /// with `JSONDecoder` and still go through the validating builder.
    /// Object keys come back sorted: a `Decoder` does not keep their order.
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self.init(.null)
        } else if let b = try? container.decode(Bool.self) {
            self.init(.bool(b))
        } else if let i = try? container.decode(Int64.self) {
            self.init(.number(String(i)))
        } else if let u = try? container.decode(UInt64.self) {
            self.init(.number(String(u)))
        } else if let d = try? container.decode(Double.self) {
            self.init(.number(String(d)))
        } else if let s = try? container.decode(String.self) {
            self.init(.string(s))
        } else if let a = try? container.decode([JSONNode].self) {
            self.init(.array(a))
        } else {
            let o = try container.decode([String: JSONNode].self)
            self.init(.object(o.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }))
        }
    }
}
