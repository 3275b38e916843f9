/// A sweep or comparison refused before anything ran: a bad option, a path
/// that is not in the topology, a value the topology cannot take.
///
/// Its description has one line per problem, in the form of
/// `orchestrator validate`'s: the file or option, the path, what was found
/// and what was expected.
public struct SweepError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem it is; more may be added.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// An option that cannot be read (`--vary` without `=`, a bad range, `--tolerance abc`).
        public static let badOption = Code(rawValue: "bad-option")
        /// Options that do not go together (`--repeat` with `--find-max`, three `--vary`).
        public static let conflictingOptions = Code(rawValue: "conflicting-options")
        /// The topology file itself is invalid or unreadable.
        public static let topology = Code(rawValue: "topology")
        /// A varied value makes an invalid topology.
        public static let invalidVariant = Code(rawValue: "invalid-variant")
        /// A run or sweep directory that cannot be read.
        public static let badDirectory = Code(rawValue: "bad-directory")
        /// The output directory cannot be created or written.
        public static let output = Code(rawValue: "output")
    }

    public var code: Code
    /// One line per problem.
    public var lines: [String]

    public init(_ code: Code, _ lines: [String]) {
        precondition(!lines.isEmpty, "an error says what is wrong")
        self.code = code
        self.lines = lines
    }

    public init(_ code: Code, _ line: String) {
        self.init(code, [line])
    }

    public var description: String { lines.joined(separator: "\n") }
}
