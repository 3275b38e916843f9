/// Why the network of a netns run could not be set up.
public struct NetnsError: Error, Hashable, CustomStringConvertible, Sendable {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// More hosts than a /24 holds.
        public static let tooManyHosts = Code(name: "too-many-hosts")
        /// Every /24 of 198.18.0.0/15 is on an interface already.
        public static let noFreeSubnet = Code(name: "no-free-subnet")
        /// An `ip` or `iptables` command failed; ``command`` says how.
        public static let command = Code(name: "command")
        public var description: String { name }
    }

    public let code: Code
    /// The command and what it said, or what is missing, as shown to the user.
    public let message: String
    /// The failed command's own error, for code `.command`.
    public let command: SystemCommandError?
    public var description: String { message }

    public init(_ code: Code, _ message: String, command: SystemCommandError? = nil) {
        self.code = code
        self.message = message
        self.command = command
    }
}
